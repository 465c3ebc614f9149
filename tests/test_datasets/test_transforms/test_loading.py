"""Tests of the h5 and NIfTI loaders, including every refused input."""
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest

from fdpl.datasets.transforms import LoadH5Volume, LoadNiftiVolume

SHARED = Path(__file__).resolve().parents[3].parent / 'shared' / 'data'
LA_SAMPLE = SHARED / 'LA-sample'
BRATS_SAMPLE = SHARED / 'BraTS-sample' / 'BraTS19_2013_10_1'


def _write_h5(path, **arrays):
    attrs = arrays.pop('attrs', {})
    with h5py.File(path, 'w') as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
        for k, v in attrs.items():
            f.attrs[k] = v
    return str(path)


def _good(shape=(6, 5, 4)):
    rng = np.random.RandomState(0)
    return rng.randn(*shape).astype(np.float32), rng.randint(0, 2, shape).astype(np.uint8)


@pytest.mark.skipif(not LA_SAMPLE.is_dir(), reason='LA sample not available')
def test_la_sample_real_file():
    path = sorted(LA_SAMPLE.glob('2018LA_Seg_Training Set/*/mri_norm2.h5'))[0]
    with h5py.File(path, 'r') as f:
        stored = f['image'][()]
    results = LoadH5Volume(num_classes=2)(dict(img_path=str(path)))
    w, h, d = stored.shape
    assert d == 88
    assert results['img'].shape == (1, 88, h, w) and results['img'].dtype == np.float32
    assert results['gt_seg_map'].shape == (88, h, w) and results['gt_seg_map'].dtype == np.uint8
    assert results['img'][0, 5, 7, 11] == stored[11, 7, 5]
    assert set(np.unique(results['gt_seg_map'])) == {0, 1}
    assert results['ori_shape'] == (88, h, w)
    assert results['spacing'] == (1.0, 1.0, 1.0)
    np.testing.assert_array_equal(results['affine'], np.eye(4))
    assert results['transforms'] == []


def test_h5_transpose_attrs_and_separate_label(tmp_path):
    img, lab = _good()
    path = _write_h5(tmp_path / 'a.h5', image=img, attrs={'spacing': [0.5, 0.6, 0.7]})
    seg = _write_h5(tmp_path / 'a_seg.h5', label=lab)
    r = LoadH5Volume()(dict(img_path=path, seg_map_path=seg))
    assert r['img'].shape == (1, 4, 5, 6)
    np.testing.assert_array_equal(r['gt_seg_map'], lab.transpose(2, 1, 0))
    assert r['spacing'] == pytest.approx((0.7, 0.6, 0.5))
    r = LoadH5Volume(with_label=False, axis_order='DHW')(dict(img_path=path))
    assert r['img'].shape == (1, 6, 5, 4) and 'gt_seg_map' not in r


def test_h5_errors(tmp_path):
    img, lab = _good()
    with pytest.raises(FileNotFoundError, match='nope.h5'):
        LoadH5Volume()(dict(img_path=str(tmp_path / 'nope.h5')))

    path = _write_h5(tmp_path / 'nokey.h5', image=img)
    with pytest.raises(KeyError, match=r"'label'.*nokey\.h5.*available keys: \['image'\]"):
        LoadH5Volume()(dict(img_path=path))

    path = _write_h5(tmp_path / 'shape.h5', image=img, label=lab[:, :, :3])
    with pytest.raises(ValueError, match='shape.h5.*must match'):
        LoadH5Volume()(dict(img_path=path))

    bad = img.copy()
    bad[1, 2, 3] = np.nan
    path = _write_h5(tmp_path / 'nan.h5', image=bad, label=lab)
    with pytest.raises(ValueError, match='nan.h5.*NaN/Inf'):
        LoadH5Volume()(dict(img_path=path))

    path = _write_h5(tmp_path / 'three.h5', image=img, label=np.where(lab, 3, 0).astype(np.uint8))
    with pytest.raises(ValueError, match=r'three.h5.*num_classes=2'):
        LoadH5Volume(num_classes=2)(dict(img_path=path))
    with pytest.raises(ValueError, match='num_classes=2'):
        LoadH5Volume()(dict(img_path=path, num_classes=2))
    assert LoadH5Volume()(dict(img_path=path))['gt_seg_map'].max() == 3

    path = _write_h5(tmp_path / 'float.h5', image=img, label=lab * 0.5)
    with pytest.raises(ValueError, match='float.h5.*not integer-valued'):
        LoadH5Volume()(dict(img_path=path))

    good = _write_h5(tmp_path / 'good.h5', image=img, label=lab)
    data = Path(good).read_bytes()
    trunc = tmp_path / 'trunc.h5'
    trunc.write_bytes(data[:len(data) // 3])
    with pytest.raises(ValueError, match='trunc.h5'):
        LoadH5Volume()(dict(img_path=str(trunc)))

    with pytest.raises(ValueError, match='axis_order'):
        LoadH5Volume(axis_order='WHX')


def _write_nii(path, arr, zooms=(1.0, 2.0, 3.0)):
    affine = np.diag(list(zooms) + [1.0])
    affine[:3, 3] = (5, 6, 7)
    nib.save(nib.Nifti1Image(arr, affine), str(path))
    return str(path)


def test_nifti_modalities_and_labels(tmp_path):
    rng = np.random.RandomState(0)
    shape = (4, 5, 6)  # (x, y, z)
    a = _write_nii(tmp_path / 'a.nii.gz', rng.randn(*shape).astype(np.float32))
    b = _write_nii(tmp_path / 'b.nii.gz', rng.randn(*shape).astype(np.float32))
    lab = rng.randint(0, 3, shape).astype(np.float32)
    s = _write_nii(tmp_path / 's.nii.gz', lab)
    r = LoadNiftiVolume(num_classes=3)(dict(img_path=[a, b], seg_map_path=s))
    assert r['img'].shape == (2, 6, 5, 4) and r['img'].dtype == np.float32
    np.testing.assert_array_equal(r['gt_seg_map'], lab.transpose(2, 1, 0))
    assert r['gt_seg_map'].dtype == np.uint8
    assert r['spacing'] == (3.0, 2.0, 1.0)
    assert r['affine'][0, 3] == 5 and r['affine'].shape == (4, 4)

    frac = _write_nii(tmp_path / 'frac.nii.gz', lab + 0.3)
    with pytest.raises(ValueError, match='frac.nii.gz.*round_labels=True'):
        LoadNiftiVolume()(dict(img_path=a, seg_map_path=frac))
    r = LoadNiftiVolume(round_labels=True)(dict(img_path=a, seg_map_path=frac))
    np.testing.assert_array_equal(r['gt_seg_map'], lab.transpose(2, 1, 0))

    with pytest.raises(KeyError, match='seg_map_path'):
        LoadNiftiVolume()(dict(img_path=a))
    r = LoadNiftiVolume()(dict(img_path=a, seg_map_path=None, labeled=False))
    assert 'gt_seg_map' not in r and r['img'].shape == (1, 6, 5, 4)
    with pytest.raises(FileNotFoundError, match='missing.nii.gz'):
        LoadNiftiVolume(with_label=False)(dict(img_path=str(tmp_path / 'missing.nii.gz')))
    other = _write_nii(tmp_path / 'other.nii.gz', np.zeros((4, 5, 7), np.float32))
    with pytest.raises(ValueError, match='other.nii.gz.*must match'):
        LoadNiftiVolume(with_label=False)(dict(img_path=[a, other]))


@pytest.mark.skipif(not BRATS_SAMPLE.is_dir(), reason='BraTS sample not available')
def test_brats_sample_needs_explicit_rounding():
    case = BRATS_SAMPLE.name
    imgs = [str(BRATS_SAMPLE / f'{case}_{m}.nii.gz') for m in ('flair', 't1')]
    seg = str(BRATS_SAMPLE / f'{case}_seg.nii.gz')
    with pytest.raises(ValueError, match='not integer-valued'):
        LoadNiftiVolume()(dict(img_path=imgs, seg_map_path=seg))
    r = LoadNiftiVolume(round_labels=True)(dict(img_path=imgs, seg_map_path=seg))
    assert r['img'].shape == (2, 30, 30, 30)
    assert r['spacing'] == pytest.approx((5.1666665, 8.0, 8.0))
    assert r['gt_seg_map'].min() >= 0


def test_labeled_case_without_foreground_warns_once_per_file(tmp_path):
    import warnings
    img, _ = _good()
    empty = np.zeros(img.shape, dtype=np.uint8)
    path = _write_h5(tmp_path / 'empty.h5', image=img, label=empty)
    load = LoadH5Volume(axis_order='DHW')
    with pytest.warns(UserWarning, match=r'empty\.h5 \(case c7\) has no foreground voxel'):
        out = load(dict(img_path=path, case_id='c7'))
    assert out['gt_seg_map'].max() == 0  # loaded all the same
    with warnings.catch_warnings(record=True) as caught:  # later iterations: silent
        warnings.simplefilter('always')
        for _ in range(3):
            load(dict(img_path=path, case_id='c7'))
        # an unlabeled case reads its label for monitoring only: never warned about
        other = _write_h5(tmp_path / 'unlabeled.h5', image=img, label=empty)
        load(dict(img_path=other, labeled=False))
        # a label with foreground: nothing to say
        load(dict(img_path=_write_h5(tmp_path / 'good.h5', image=img, label=_good()[1])))
    assert not [w for w in caught if 'foreground' in str(w.message)]

    seg = tmp_path / 'empty_seg.nii.gz'
    _write_nii(seg, empty.transpose(2, 1, 0))
    _write_nii(tmp_path / 'img.nii.gz', img.transpose(2, 1, 0))
    with pytest.warns(UserWarning, match='empty_seg.nii.gz has no foreground voxel'):
        LoadNiftiVolume()(dict(img_path=str(tmp_path / 'img.nii.gz'), seg_map_path=str(seg)))
