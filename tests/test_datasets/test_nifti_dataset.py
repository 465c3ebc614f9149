"""Tests of NiftiSegDataset on tiny NIfTI folders written in tmp_path."""
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from fdpl.datasets import NiftiSegDataset


def _save(path: Path, shape=(10, 12, 8), dtype=np.float32):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, dtype), np.diag([2.0, 1.5, 1.0, 1.0])), str(path))


def _decathlon(root: Path, ids, labeled=None, modalities=('', ), label_shape=None):
    labeled = ids if labeled is None else labeled
    for i in ids:
        for m in modalities:
            _save(root / 'imagesTr' / f'{i}{m}.nii.gz')
        if i in labeled:
            _save(root / 'labelsTr' / f'{i}.nii.gz', shape=label_shape or (10, 12, 8),
                  dtype=np.uint8)
    return root


def _ids(ds):
    return [ds.get_data_info(i)['case_id'] for i in range(len(ds))]


def test_discovered_ids_and_subsets(tmp_path):
    ids = [f'case_{i:02d}' for i in range(6)]
    root = _decathlon(tmp_path, ids)
    _save(tmp_path / 'imagesTr' / '._case_00.nii.gz')  # macOS artefact, ignored
    kw = dict(data_root=str(tmp_path), labeled_num=2, num_val=1, validate=True,
              serialize_data=False)
    assert _ids(NiftiSegDataset(**kw)) == ids
    assert _ids(NiftiSegDataset(subset='labeled', **kw)) == ids[:2]
    unl = NiftiSegDataset(subset='unlabeled', **kw)
    assert _ids(unl) == ids[2:5]
    assert unl.get_data_info(0)['labeled'] is False
    val = NiftiSegDataset(subset='val', **kw)
    assert _ids(val) == ids[5:]
    info = val.get_data_info(0)
    assert info['img_path'] == str(root / 'imagesTr' / 'case_05.nii.gz')
    assert info['seg_map_path'] == str(root / 'labelsTr' / 'case_05.nii.gz')
    assert info['labeled'] and info['num_classes'] == 2
    # ratio: 0.4 of 5 training cases -> 2
    assert len(NiftiSegDataset(subset='labeled', data_root=str(tmp_path), labeled_num=0.4,
                               num_val=1)) == 2


def test_ann_file_and_multimodal_brats_layout(tmp_path):
    ids = ['B1', 'B2', 'B3']
    for i in ids:
        for m in ('_flair', '_t1'):
            _save(tmp_path / i / f'{i}{m}.nii.gz')
        _save(tmp_path / i / f'{i}_seg.nii.gz', dtype=np.uint8)
    (tmp_path / 'train.txt').write_text('B3\nB1\nB2\n')
    ds = NiftiSegDataset(data_root=str(tmp_path), ann_file='train.txt', img_dir='{}',
                         label_dir='{}', modalities=('_flair', '_t1'), label_suffix='_seg',
                         validate=True)
    assert _ids(ds) == ['B3', 'B1', 'B2']
    info = ds.get_data_info(0)
    assert info['img_path'] == [str(tmp_path / 'B3' / 'B3_flair.nii.gz'),
                                str(tmp_path / 'B3' / 'B3_t1.nii.gz')]
    # discovery with per-case folders
    ds = NiftiSegDataset(data_root=str(tmp_path), img_dir='{}', label_dir='{}',
                         modalities='_flair', label_suffix='_seg')
    assert _ids(ds) == ids


def test_unlabeled_may_lack_label(tmp_path):
    ids = ['a', 'b', 'c', 'd']
    _decathlon(tmp_path, ids, labeled=['a', 'b'], modalities=('_0000', ))
    kw = dict(data_root=str(tmp_path), modalities=('_0000', ), labeled_num=2, validate=True)
    unl = NiftiSegDataset(subset='unlabeled', **kw)
    assert [unl.get_data_info(i)['seg_map_path'] for i in range(2)] == [None, None]
    assert len(NiftiSegDataset(subset='labeled', **kw)) == 2
    with pytest.raises(FileNotFoundError, match=r"(?s)2 label file\(s\).*c\.nii\.gz"):
        NiftiSegDataset(subset='all', **kw)


def test_loads_through_pipeline(tmp_path):
    init_default_scope('fdpl')
    _decathlon(tmp_path, ['a', 'b'], labeled=['a'])
    ds = NiftiSegDataset(data_root=str(tmp_path), subset='unlabeled', labeled_num=1,
                         pipeline=[dict(type='LoadNiftiVolume')])
    out = ds[0]
    assert out['img'].shape == (1, 8, 12, 10) and 'gt_seg_map' not in out


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root'):
        NiftiSegDataset(data_root=str(tmp_path / 'missing'))
    (tmp_path / 'imagesTr').mkdir()
    with pytest.raises(FileNotFoundError, match='no image file matches'):
        NiftiSegDataset(data_root=str(tmp_path))
    _decathlon(tmp_path, ['a', 'b'])
    (tmp_path / 'list.txt').write_text('a\nb\nzz\n')
    with pytest.raises(FileNotFoundError, match=r'zz\.nii\.gz'):
        NiftiSegDataset(data_root=str(tmp_path), ann_file='list.txt')
    with pytest.raises(FileNotFoundError, match='nolist'):
        NiftiSegDataset(data_root=str(tmp_path), ann_file='nolist.txt')
    with pytest.raises(ValueError, match='labeled_num'):
        NiftiSegDataset(data_root=str(tmp_path), subset='labeled', labeled_num=3)
    with pytest.raises(ValueError, match='unknown subset'):
        NiftiSegDataset(data_root=str(tmp_path), subset='labelled')


def test_check_files_shapes_and_corrupt(tmp_path):
    _decathlon(tmp_path, ['a'], label_shape=(10, 12, 7))
    with pytest.raises(ValueError, match=r'label .*a\.nii\.gz.*\(10, 12, 7\)'):
        NiftiSegDataset(data_root=str(tmp_path), validate=True)
    (tmp_path / 'labelsTr' / 'a.nii.gz').write_bytes(b'garbage')
    with pytest.raises(ValueError, match=r'labelsTr/a\.nii\.gz'):
        NiftiSegDataset(data_root=str(tmp_path), validate=True)
