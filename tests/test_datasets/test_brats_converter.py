"""Tests of the BraTS converter on the real (downsampled) BraTS sample."""
import runpy
import shutil
import sys
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest

from fdpl.datasets import H5SegDataset
from fdpl.datasets.converters import convert_brats, convert_brats_case, nonzero_bbox

REPO = Path(__file__).resolve().parents[2]
CASE = 'BraTS19_2013_10_1'
BRATS_SAMPLE = REPO.parent / 'shared' / 'data' / 'BraTS-sample'
needs_brats = pytest.mark.skipif(not (BRATS_SAMPLE / CASE).is_dir(),
                                 reason='BraTS sample not available')


def _read(path):
    with h5py.File(path, 'r') as f:
        return {k: f[k][()] for k in f}, {k: f.attrs[k] for k in f.attrs}


def _write_case(folder: Path, name: str, flair: np.ndarray, seg: np.ndarray, affine):
    d = folder / name
    d.mkdir(parents=True)
    nib.save(nib.Nifti1Image(flair.astype(np.float32), affine), str(d / f'{name}_flair.nii.gz'))
    nib.save(nib.Nifti1Image(seg.astype(np.float32), affine), str(d / f'{name}_seg.nii.gz'))
    return d


@needs_brats
def test_refuses_non_integer_label(tmp_path):
    with pytest.raises(ValueError, match=rf'(?s){CASE}_seg\.nii\.gz.*round_labels=True'):
        convert_brats_case(str(BRATS_SAMPLE / CASE), str(tmp_path / 'x.h5'))
    assert not (tmp_path / 'x.h5').exists()


@needs_brats
def test_converts_with_rounding(tmp_path):
    out = tmp_path / 'x.h5'
    info = convert_brats_case(str(BRATS_SAMPLE / CASE), str(out), round_labels=True)
    arrays, attrs = _read(out)
    src = nib.load(str(BRATS_SAMPLE / CASE / f'{CASE}_flair.nii.gz'))
    flair = np.asarray(src.dataobj, dtype=np.float32)
    seg = np.asarray(nib.load(str(BRATS_SAMPLE / CASE / f'{CASE}_seg.nii.gz')).dataobj)
    box = nonzero_bbox(flair)
    sl = tuple(slice(box[i], box[i + 3]) for i in range(3))
    assert info['bbox'] == box and tuple(attrs['bbox']) == box
    assert arrays['image'].shape == arrays['label'].shape == flair[sl].shape  # stored (x, y, z)
    assert arrays['image'].dtype == np.float32 and arrays['label'].dtype == np.uint8
    assert set(np.unique(arrays['label']).tolist()) <= {0, 1}
    np.testing.assert_array_equal(arrays['label'], (np.maximum(np.rint(seg[sl]), 0) > 0))
    np.testing.assert_allclose(attrs['spacing'], src.header.get_zooms()[:3])
    # clip at the 99.9th percentile, then z-score over voxels > 0
    clipped = np.minimum(flair[sl], np.percentile(flair[sl], 99.9))
    pos = clipped > 0
    expected = (clipped - clipped[pos].mean()) / clipped[pos].std()
    np.testing.assert_allclose(arrays['image'], expected, rtol=1e-4, atol=1e-4)
    assert abs(arrays['image'][pos].mean()) < 1e-4


@needs_brats
def test_crop_ignores_label_and_modality_names(tmp_path):
    src = nib.load(str(BRATS_SAMPLE / CASE / f'{CASE}_t1post.nii.gz'))
    seg = np.asarray(nib.load(str(BRATS_SAMPLE / CASE / f'{CASE}_seg.nii.gz')).dataobj)
    pad = ((2, 3), (1, 4), (0, 5))
    img = np.pad(np.asarray(src.dataobj, dtype=np.float32), pad)  # zero border around the head
    seg_a = np.pad(np.rint(np.maximum(seg, 0)), pad)
    seg_b = np.zeros_like(seg_a)
    seg_b[0, 0, -2:] = 4  # foreground outside the image's non-zero box
    seg_b[10:12, 10:12, 10:12] = 1
    da = _write_case(tmp_path / 'src', 'caseA', img, seg_a, src.affine)
    db = _write_case(tmp_path / 'src', 'caseB', img, seg_b, src.affine)
    ia = convert_brats_case(str(da), str(tmp_path / 'a.h5'), modality='flair')
    ib = convert_brats_case(str(db), str(tmp_path / 'b.h5'), modality='flair')
    assert ia['bbox'] == ib['bbox'] == (2, 1, 0, 32, 31, 30)
    a, attrs = _read(tmp_path / 'a.h5')
    b, _ = _read(tmp_path / 'b.h5')
    np.testing.assert_array_equal(a['image'], b['image'])
    assert not np.array_equal(a['label'], b['label'])
    # the stored affine is moved to the crop origin
    np.testing.assert_allclose(attrs['affine'][:3, 3], src.affine[:3, :3] @ [2, 1, 0]
                               + src.affine[:3, 3])
    # the real sample's t1ce file is named '_t1post'
    info = convert_brats_case(str(BRATS_SAMPLE / CASE), str(tmp_path / 't.h5'),
                              modality='t1post', round_labels=True)
    assert info['shape'] == (30, 30, 30)
    with pytest.raises(FileNotFoundError, match='t1ce'):
        convert_brats_case(str(BRATS_SAMPLE / CASE), str(tmp_path / 't.h5'), modality='t1ce',
                           round_labels=True)


@needs_brats
def test_folder_and_cli(tmp_path, monkeypatch):
    src = tmp_path / 'src' / 'HGG'
    src.mkdir(parents=True)
    shutil.copytree(BRATS_SAMPLE / CASE, src / CASE)
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match='round_labels'):
        convert_brats(str(tmp_path / 'src'), str(out))
    res = convert_brats(str(tmp_path / 'src'), str(out), round_labels=True)
    assert [r['case'] for r in res] == [CASE]
    assert (out / 'all.list').read_text().split() == [CASE]
    ds = H5SegDataset(data_root=str(out), ann_file='all.list', path_template='data/{}.h5',
                      validate=True)
    assert len(ds) == 1

    out2 = tmp_path / 'out2'
    monkeypatch.setattr(sys, 'argv', [
        'convert_brats.py', str(tmp_path / 'src'), str(out2), '--round-labels', '--label-suffix',
        'none', '--list-file', 'test.list'
    ])
    runpy.run_path(str(REPO / 'tools' / 'convert_brats.py'), run_name='__main__')
    arrays, _ = _read(out2 / 'data' / f'{CASE}.h5')
    assert 'label' not in arrays and (out2 / 'test.list').is_file()
