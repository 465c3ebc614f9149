"""Tests of the NIfTI-folder converter (manifest + HDF5) on tiny hand-made folders."""
import csv
import hashlib
import json
import runpy
import shutil
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest

from fdpl.datasets.converters import (convert_brats_case, convert_nifti_folder, find_cases,
                                      nonzero_crop_box, read_manifest)
from fdpl.datasets.transforms import LoadH5Volume, LoadNiftiVolume

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[2] / '..' / 'shared'
BRATS_CASE = 'BraTS19_2013_10_1'
BRATS_SAMPLE = SHARED / 'data' / 'BraTS-sample'
needs_brats = pytest.mark.skipif(not (BRATS_SAMPLE / BRATS_CASE).is_dir(),
                                 reason='BraTS sample not available')
AFFINE = np.array([[-1.5, 0.0, 0.0, 10.0], [0.0, 1.25, 0.0, -4.0], [0.0, 0.0, 2.0, 7.0],
                   [0.0, 0.0, 0.0, 1.0]])


def _save(path: Path, data: np.ndarray, affine=AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def _volume(seed: int, shape=(12, 10, 8)) -> np.ndarray:
    """An image (x, y, z) with a zero border and a non-zero interior."""
    img = np.zeros(shape, np.float32)
    rng = np.random.default_rng(seed)
    img[2:-2, 1:-3, 1:-1] = rng.uniform(1.0, 5.0, size=(shape[0] - 4, shape[1] - 4, shape[2] - 2))
    return img


def _label(shape=(12, 10, 8), value=1) -> np.ndarray:
    lab = np.zeros(shape, np.uint8)
    lab[4:7, 3:6, 2:5] = value
    return lab


def _nnunet(root: Path, ids=('a', 'b', 'c'), labeled=('a', 'b'), modalities=('_0000', '_0001'),
            shape=(12, 10, 8)) -> Path:
    for k, i in enumerate(ids):
        for m, mod in enumerate(modalities):
            _save(root / 'imagesTr' / f'{i}{mod}.nii.gz', _volume(10 * k + m, shape))
        if i in labeled:
            _save(root / 'labelsTr' / f'{i}.nii.gz', _label(shape))
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_rows_sha_and_unlabeled_pool(tmp_path):
    src = _nnunet(tmp_path / 'src')
    out = tmp_path / 'out'
    manifest = convert_nifti_folder(str(src), str(out), modalities=('_0000', '_0001'))
    assert manifest == read_manifest(str(out / 'manifest.json'))
    assert manifest['format'] == 'fdpl-manifest/1'
    assert manifest['root'] == str(src.resolve())
    assert manifest['modalities'] == ['_0000', '_0001']
    rows = {c['id']: c for c in manifest['cases']}
    assert list(rows) == ['a', 'b', 'c']
    a, c = rows['a'], rows['c']
    assert a['images'] == ['imagesTr/a_0000.nii.gz', 'imagesTr/a_0001.nii.gz']
    assert a['label'] == 'labelsTr/a.nii.gz'
    assert c['label'] is None  # the unlabeled pool
    assert a['shape'] == [8, 10, 12]  # (D, H, W) = nibabel (x, y, z) reversed
    assert a['spacing'] == [2.0, 1.25, 1.5]
    assert a['sha256'] == {p: _sha(src / p) for p in a['images'] + [a['label']]}
    assert set(c['sha256']) == set(c['images'])
    with open(out / 'manifest.csv', newline='') as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ['id', 'images', 'label', 'spacing_d', 'spacing_h', 'spacing_w',
                              'shape_d', 'shape_h', 'shape_w', 'sha256']
    assert [r['id'] for r in table] == ['a', 'b', 'c']
    assert table[0]['images'] == 'imagesTr/a_0000.nii.gz;imagesTr/a_0001.nii.gz'
    assert table[2]['label'] == ''
    assert table[0]['sha256'].split(';') == [a['sha256'][p] for p in a['images'] + [a['label']]]
    assert (float(table[0]['spacing_d']), int(table[0]['shape_w'])) == (2.0, 12)


def test_decathlon_and_per_case_folder_layouts(tmp_path):
    for i in ('x1', 'x2'):
        _save(tmp_path / 'dec' / 'imagesTr' / f'{i}.nii.gz', _volume(1))
        _save(tmp_path / 'dec' / 'labelsTr' / f'{i}.nii.gz', _label())
    _save(tmp_path / 'dec' / 'imagesTr' / '._x1.nii.gz', _volume(1))  # macOS artefact
    cases = find_cases(str(tmp_path / 'dec'), modalities=('', ))
    assert [(c['id'], c['images'], c['label']) for c in cases] == [
        ('x1', ['imagesTr/x1.nii.gz'], 'labelsTr/x1.nii.gz'),
        ('x2', ['imagesTr/x2.nii.gz'], 'labelsTr/x2.nii.gz')]
    _save(tmp_path / 'pc' / 'P1' / 'P1_t1.nii.gz', _volume(2))
    _save(tmp_path / 'pc' / 'P1' / 'P1_seg.nii.gz', _label())
    cases = find_cases(str(tmp_path / 'pc'), images_dir='{}', labels_dir='{}',
                       modalities=('_t1', ), label_suffix='_seg')
    assert cases == [dict(id='P1', images=['P1/P1_t1.nii.gz'], label='P1/P1_seg.nii.gz')]


def test_missing_label_of_required_case_is_an_error(tmp_path):
    src = _nnunet(tmp_path / 'src')
    with pytest.raises(ValueError, match=r"(?s)\['c'\].*labelsTr/c\.nii\.gz"):
        convert_nifti_folder(str(src), str(tmp_path / 'out'), modalities=('_0000', '_0001'),
                             require_labels=['a', 'c'])
    assert not (tmp_path / 'out').exists()  # nothing written
    with pytest.raises(ValueError, match='zz'):
        convert_nifti_folder(str(src), str(tmp_path / 'out'), modalities=('_0000', '_0001'),
                             require_labels=['zz'])


def test_shape_mismatch_names_the_file(tmp_path):
    src = _nnunet(tmp_path / 'src')
    bad = _save(src / 'imagesTr' / 'b_0001.nii.gz', _volume(3, shape=(12, 10, 9)))
    with pytest.raises(ValueError, match=rf"{bad}.*\(12, 10, 9\)"):
        convert_nifti_folder(str(src), str(tmp_path / 'out'), modalities=('_0000', '_0001'))
    src2 = _nnunet(tmp_path / 'src2')
    bad = _save(src2 / 'labelsTr' / 'a.nii.gz', _label(shape=(12, 10, 7)))
    with pytest.raises(ValueError, match=rf"label '{bad}'"):
        convert_nifti_folder(str(src2), str(tmp_path / 'out'), modalities=('_0000', '_0001'))
    assert not (tmp_path / 'out').exists()


def test_nan_in_image_names_the_file(tmp_path):
    src = _nnunet(tmp_path / 'src')
    img = _volume(4)
    img[5, 5, 5] = np.nan
    bad = _save(src / 'imagesTr' / 'c_0000.nii.gz', img)
    with pytest.raises(ValueError, match=rf"{bad}.*1 NaN/Inf"):
        convert_nifti_folder(str(src), str(tmp_path / 'out'), modalities=('_0000', '_0001'))
    assert not (tmp_path / 'out' / 'manifest.json').exists()


def test_label_values_affine_and_missing_files(tmp_path):
    src = _nnunet(tmp_path / 'src')
    kw = dict(modalities=('_0000', '_0001'))
    out = str(tmp_path / 'out')
    bad = _save(src / 'labelsTr' / 'a.nii.gz', _label(value=3))
    with pytest.raises(ValueError, match=rf'{bad}.*\[3\].*num_classes=2'):
        convert_nifti_folder(str(src), out, **kw)
    assert convert_nifti_folder(str(src), out, num_classes=4, **kw)['cases'][0]['label']
    _save(src / 'labelsTr' / 'a.nii.gz', _label().astype(np.float32) * 0.9)
    with pytest.raises(ValueError, match=rf'{bad}.*not integer-valued'):
        convert_nifti_folder(str(src), out, **kw)
    convert_nifti_folder(str(src), out, round_labels=True, **kw)
    _save(src / 'labelsTr' / 'a.nii.gz', _label())
    shifted = AFFINE.copy()
    shifted[0, 3] += 0.5
    moved = _save(src / 'imagesTr' / 'a_0001.nii.gz', _volume(1), affine=shifted)
    with pytest.raises(ValueError, match=rf'{moved}.*affine'):
        convert_nifti_folder(str(src), out, **kw)
    convert_nifti_folder(str(src), out, affine_tol=None, **kw)
    moved.unlink()
    with pytest.raises(FileNotFoundError, match=str(moved)):
        convert_nifti_folder(str(src), out, **kw)
    _nnunet(src)
    orphan = _save(src / 'labelsTr' / 'zz.nii.gz', _label())
    with pytest.raises(ValueError, match=str(orphan)):
        convert_nifti_folder(str(src), out, **kw)
    with pytest.raises(FileNotFoundError, match='imagesTr'):
        convert_nifti_folder(str(src), out, modalities=('_0005', ))


def test_h5_output_matches_the_nifti_loader(tmp_path):
    src = _nnunet(tmp_path / 'src')
    h5_out = tmp_path / 'h5'
    convert_nifti_folder(str(src), str(tmp_path / 'out'), modalities=('_0000', '_0001'),
                         h5_out=str(h5_out))
    assert (h5_out / 'all.list').read_text().split() == ['a', 'b', 'c']
    assert (h5_out / 'labeled.list').read_text().split() == ['a', 'b']
    assert (h5_out / 'unlabeled.list').read_text().split() == ['c']
    with h5py.File(h5_out / 'data' / 'a.h5', 'r') as f:
        assert f['image'].shape == (2, 12, 10, 8)  # (C, W, H, D) = (C, x, y, z)
        assert f['label'].shape == (12, 10, 8) and f['label'].dtype == np.uint8
    with h5py.File(h5_out / 'data' / 'c.h5', 'r') as f:
        assert 'label' not in f
    from_h5 = LoadH5Volume()(dict(img_path=str(h5_out / 'data' / 'a.h5')))
    from_nii = LoadNiftiVolume()(dict(
        img_path=[str(src / 'imagesTr' / f'a_{m}.nii.gz') for m in ('0000', '0001')],
        seg_map_path=str(src / 'labelsTr' / 'a.nii.gz')))
    np.testing.assert_array_equal(from_h5['img'], from_nii['img'])
    np.testing.assert_array_equal(from_h5['gt_seg_map'], from_nii['gt_seg_map'])
    assert from_h5['spacing'] == from_nii['spacing'] == (2.0, 1.25, 1.5)
    np.testing.assert_allclose(from_h5['affine'], from_nii['affine'])
    unl = LoadH5Volume()(dict(img_path=str(h5_out / 'data' / 'c.h5'), labeled=False))
    assert 'gt_seg_map' not in unl and unl['img'].shape == (2, 8, 10, 12)


def test_nonzero_crop_box():
    img = np.zeros((2, 10, 12, 8), np.float32)
    img[0, 3:5, 4, 2] = 1.0
    img[1, 6, 9, 5] = -2.0  # any channel, any sign
    assert nonzero_crop_box(img) == (3, 4, 2, 7, 10, 6)
    assert nonzero_crop_box(img, margin=2) == (1, 2, 0, 9, 12, 8)
    assert nonzero_crop_box(img, margin=(0, 5, 1)) == (3, 0, 1, 7, 12, 7)
    with pytest.raises(ValueError, match='no non-zero voxel'):
        nonzero_crop_box(np.zeros((1, 4, 4, 4)))


def _crop_pair_nifti(tmp_path: Path, img: np.ndarray, lab_a: np.ndarray, lab_b: np.ndarray):
    for name, lab in (('a', lab_a), ('b', lab_b)):
        src = tmp_path / f'nifti_{name}'
        _save(src / 'imagesTr' / 'case_0000.nii.gz', img)
        _save(src / 'labelsTr' / 'case.nii.gz', lab)
        convert_nifti_folder(str(src), str(tmp_path / f'out_{name}'), h5_out=str(src / 'h5'),
                             crop='nonzero', margin=1, num_classes=5)
    return [tmp_path / f'nifti_{n}' / 'h5' / 'data' / 'case.h5' for n in 'ab']


def _crop_pair_brats(tmp_path: Path, img: np.ndarray, lab_a: np.ndarray, lab_b: np.ndarray):
    paths = []
    for name, lab in (('a', lab_a), ('b', lab_b)):
        case = tmp_path / f'brats_{name}' / 'case'
        _save(case / 'case_flair.nii.gz', img)
        _save(case / 'case_seg.nii.gz', lab)
        paths.append(tmp_path / f'brats_{name}.h5')
        convert_brats_case(str(case), str(paths[-1]), modality='flair')
    return paths


@pytest.mark.parametrize('convert', [_crop_pair_nifti, _crop_pair_brats],
                         ids=['nifti_folder', 'brats'])
def test_crop_never_depends_on_the_label(convert, tmp_path):
    """The same image with two different labels gives the same box and stored image."""
    img = np.zeros((20, 18, 14), np.float32)
    img[4:15, 3:12, 2:11] = np.random.default_rng(0).uniform(1, 9, size=(11, 9, 9))
    lab_a = np.zeros(img.shape, np.uint8)
    lab_a[6:9, 5:8, 4:7] = 1
    lab_b = np.zeros(img.shape, np.uint8)
    lab_b[0, 0, 0] = 4  # foreground outside the image's non-zero box
    lab_b[18:20, 15:18, 12:14] = 2
    a, b = convert(tmp_path, img, lab_a, lab_b)
    with h5py.File(a, 'r') as fa, h5py.File(b, 'r') as fb:
        assert tuple(fa.attrs['bbox']) == tuple(fb.attrs['bbox'])
        np.testing.assert_array_equal(fa['image'][()], fb['image'][()])
        assert not np.array_equal(fa['label'][()], fb['label'][()])
        box = tuple(int(v) for v in fa.attrs['bbox'])
    assert box in ((3, 2, 1, 16, 13, 12), (4, 3, 2, 15, 12, 11))  # margin 1 / none


def test_cli(tmp_path, monkeypatch, capsys):
    src = _nnunet(tmp_path / 'src', modalities=('_0000', ))
    split = tmp_path / 'need.list'
    split.write_text('a\nc\n')
    monkeypatch.setattr(sys, 'argv', ['convert_nifti_folder.py', str(src), str(tmp_path / 'o'),
                                      '--require-label-file', str(split)])
    with pytest.raises(ValueError, match=r"\['c'\]"):
        runpy.run_path(str(REPO / 'tools' / 'convert_nifti_folder.py'), run_name='__main__')
    monkeypatch.setattr(sys, 'argv', [
        'convert_nifti_folder.py', str(src), str(tmp_path / 'o'), '--modalities', '_0000',
        '--h5-out', str(tmp_path / 'h5'), '--crop', 'nonzero', '--margin', '1', '0', '2'
    ])
    runpy.run_path(str(REPO / 'tools' / 'convert_nifti_folder.py'), run_name='__main__')
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary['cases'], summary['labeled'], summary['unlabeled']) == (3, 2, 1)
    with h5py.File(tmp_path / 'h5' / 'data' / 'a.h5', 'r') as f:
        assert tuple(f.attrs['bbox']) == (1, 1, 0, 11, 7, 8)
        assert f['image'].shape == (10, 6, 8)


@needs_brats
def test_brats_sample_several_modalities(tmp_path):
    src = tmp_path / 'brats'
    shutil.copytree(BRATS_SAMPLE / BRATS_CASE, src / BRATS_CASE)
    kw = dict(images_dir='{}', labels_dir='{}', modalities=('_flair', '_t1', '_t1post', '_t2'),
              label_suffix='_seg')
    seg = src / BRATS_CASE / f'{BRATS_CASE}_seg.nii.gz'
    with pytest.raises(ValueError, match=rf'{seg}.*not integer-valued.*round_labels'):
        convert_nifti_folder(str(src), str(tmp_path / 'out'), **kw)
    manifest = convert_nifti_folder(str(src), str(tmp_path / 'out'), round_labels=True,
                                    num_classes=6, h5_out=str(tmp_path / 'h5'), crop='nonzero',
                                    **kw)
    (case, ) = manifest['cases']
    assert case['id'] == BRATS_CASE
    assert case['images'] == [f'{BRATS_CASE}/{BRATS_CASE}{m}.nii.gz' for m in kw['modalities']]
    assert case['label'] == f'{BRATS_CASE}/{BRATS_CASE}_seg.nii.gz'
    assert case['shape'] == [30, 30, 30]
    assert case['spacing'] == pytest.approx([5.1666665, 8.0, 8.0])
    assert len(case['sha256']) == 5
    with h5py.File(tmp_path / 'h5' / 'data' / f'{BRATS_CASE}.h5', 'r') as f:
        assert f['image'].shape[0] == 4 and f['image'].shape[1:] == f['label'].shape
        assert int(f['label'][()].max()) <= 5
    # the labels alone: everything unlabeled
    manifest = convert_nifti_folder(str(src), str(tmp_path / 'out2'), images_dir='{}',
                                    labels_dir=None, modalities=('_t2', ))
    assert manifest['cases'][0]['label'] is None
