"""Tests of H5SegDataset and LADataset: subsets, labeled_num, num_val and bad input."""
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope

from fdpl.datasets import H5SegDataset, LADataset
from fdpl.registry import DATASETS

LA_SAMPLE = Path(__file__).resolve().parents[2].parent / 'shared' / 'data' / 'LA-sample'
needs_la = pytest.mark.skipif(not LA_SAMPLE.is_dir(), reason='LA sample not available')
# LA-sample/train.list, in order
LA_TRAIN = ['8M99G0JLAXG9GLPV0O8G', 'FGM5NIWN3URY4HF4WNUW', '5FKQL4K14KCB72Y8YMC2']


def _write_case(path: Path, shape=(16, 12, 10), label_shape=None, with_label=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=np.random.rand(*shape).astype(np.float32))
        if with_label:
            f.create_dataset('label', data=np.zeros(label_shape or shape, np.uint8))


def _make_root(tmp_path: Path, ids, list_name='train.list', **kw) -> Path:
    root = tmp_path / 'root'
    for i in ids:
        _write_case(root / f'{i}.h5', **kw)
    (root / list_name).write_text(''.join(f'{i}\n' for i in ids))
    return root


def _ds(root, **kw):
    kw.setdefault('serialize_data', False)  # skips mmengine's gc.collect(): faster tests
    return H5SegDataset(data_root=str(root), ann_file='train.list', path_template='{}.h5', **kw)


def _ids(ds):
    return [ds.get_data_info(i)['case_id'] for i in range(len(ds))]


# ----------------------------------------------------------------- real LA sample
def _la(**kw):
    kw.setdefault('serialize_data', False)
    return LADataset(**kw)


@needs_la
def test_la_sample_subsets():
    root = str(LA_SAMPLE)
    all_ = _la(data_root=root, validate=True)
    assert _ids(all_) == LA_TRAIN
    info = all_.get_data_info(0)
    assert info['labeled'] is True and info['num_classes'] == 2
    assert info['img_path'] == info['seg_map_path']
    assert info['img_path'].endswith('2018LA_Seg_Training Set/8M99G0JLAXG9GLPV0O8G/mri_norm2.h5')
    assert all_.metainfo['classes'] == ('background', 'left_atrium')

    lab = _la(data_root=root, subset='labeled', labeled_num=1, num_val=1)
    unl = _la(data_root=root, subset='unlabeled', labeled_num=1, num_val=1, validate=True)
    val = _la(data_root=root, subset='val', num_val=1, validate=True)
    train = _la(data_root=root, subset='train', num_val=1)
    assert _ids(lab) == LA_TRAIN[:1]
    assert _ids(unl) == LA_TRAIN[1:2]
    assert _ids(val) == LA_TRAIN[2:]
    assert _ids(train) == LA_TRAIN[:2]
    assert lab.get_data_info(0)['labeled'] and val.get_data_info(0)['labeled']
    assert unl.get_data_info(0)['labeled'] is False
    assert lab.resolved_labeled_num == 1 and unl.resolved_labeled_num == 1

    test = _la(data_root=root, ann_file='test.list')
    assert _ids(test) == ['UPT6DX9IQY9JAZ7HJKA7', 'VIXBEFTNVHZWKAKURJBN']

    both = ConcatDataset([lab, unl])
    assert both.cumulative_sizes == [1, 2]


@needs_la
def test_la_sample_ratio_and_env(tmp_path, monkeypatch):
    # ratio of N_train = 3 - 1 = 2 training cases: 0.5 -> 1, 1.0 -> 2
    ds = _la(data_root=str(LA_SAMPLE), subset='labeled', labeled_num=0.5, num_val=1)
    assert ds.resolved_labeled_num == 1
    ds = _la(data_root=str(LA_SAMPLE), subset='labeled', labeled_num=1.0)
    assert _ids(ds) == LA_TRAIN
    # data_root=None -> $FDPL_DATA_ROOT/LA
    (tmp_path / 'LA').symlink_to(LA_SAMPLE, target_is_directory=True)
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path))
    assert _ids(_la()) == LA_TRAIN
    # built from the registry
    ds = DATASETS.build(dict(type='LADataset', data_root=str(LA_SAMPLE), subset='val', num_val=2))
    assert _ids(ds) == LA_TRAIN[1:]


@needs_la
def test_la_sample_pipeline_loads():
    init_default_scope('fdpl')
    ds = _la(data_root=str(LA_SAMPLE), subset='val', num_val=1,
                   pipeline=[dict(type='LoadH5Volume')])
    out = ds[0]
    assert out['img'].shape == (1, 88, 134, 180)  # stored (180, 134, 88) = (W, H, D)
    assert out['gt_seg_map'].shape == (88, 134, 180)


# ----------------------------------------------------------------- semantics on tiny files
def test_ratio_rounding_and_logging(tmp_path):
    ids = [f'c{i}' for i in range(10)]
    root = _make_root(tmp_path, ids)
    ds = _ds(root, subset='labeled', labeled_num=0.25, num_val=2)  # 0.25 * 8 = 2
    assert _ids(ds) == ['c0', 'c1']
    ds = _ds(root, subset='unlabeled', labeled_num=0.25, num_val=2)
    assert _ids(ds) == [f'c{i}' for i in range(2, 8)]
    ds = _ds(root, subset='labeled', labeled_num=0.3125, num_val=2)  # 2.5 -> 3 (half up)
    assert len(ds) == 3
    ds = _ds(root, subset='val', num_val=2, labeled_num=100)  # labeled_num unused for val
    assert _ids(ds) == ['c8', 'c9']


def test_comments_and_blank_lines(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'])
    (root / 'train.list').write_text('# header\na\n\n  b  \n')
    assert _ids(_ds(root)) == ['a', 'b']


def test_lazy_init(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'], with_label=False)
    ds = _ds(root, subset='unlabeled', labeled_num=1, lazy_init=True, validate=True)
    assert len(ds) == 1


# ----------------------------------------------------------------- bad input
def test_missing_data_root(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='data_root.*FDPL_DATA_ROOT'):
        _ds(tmp_path / 'nope')
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path / 'nowhere'))
    with pytest.raises(FileNotFoundError, match='nowhere'):
        LADataset()
    with pytest.raises(ValueError, match='data_root'):
        H5SegDataset(ann_file='train.list')


def test_missing_list_file(tmp_path):
    root = _make_root(tmp_path, ['a'])
    with pytest.raises(FileNotFoundError, match='other.list'):
        H5SegDataset(data_root=str(root), ann_file='other.list')


def test_duplicate_ids(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'])
    (root / 'train.list').write_text('a\nb\na\n')
    with pytest.raises(ValueError, match=r"duplicate ids: \['a'\]"):
        _ds(root)


def test_empty_list(tmp_path):
    root = _make_root(tmp_path, ['a'])
    (root / 'train.list').write_text('\n')
    with pytest.raises(ValueError, match='no case id'):
        _ds(root)


def test_missing_files_listed(tmp_path):
    ids = [f'c{i:02d}' for i in range(15)]
    root = _make_root(tmp_path, ids[:2])
    (root / 'train.list').write_text(''.join(f'{i}\n' for i in ids))
    with pytest.raises(FileNotFoundError) as e:
        _ds(root)
    msg = str(e.value)
    assert '13 file(s)' in msg and 'c02.h5' in msg and 'c11.h5' in msg
    assert 'c12.h5' not in msg and '3 more' in msg


@pytest.mark.parametrize('labeled_num,match', [(0, 'at least 1'), (9, 'exceeds the 8'),
                                               (0.01, 'at least 1'), (1.5, r'\(0, 1\]'),
                                               ('4', 'int count'), (True, 'int count')])
def test_bad_labeled_num(tmp_path, labeled_num, match):
    root = _make_root(tmp_path, [f'c{i}' for i in range(10)])
    with pytest.raises(ValueError, match=match):
        _ds(root, subset='labeled', labeled_num=labeled_num, num_val=2)


def test_labeled_num_required_and_unlabeled_empty(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'])
    with pytest.raises(ValueError, match='labeled_num'):
        _ds(root, subset='labeled')
    with pytest.raises(ValueError, match='unlabeled.*empty'):
        _ds(root, subset='unlabeled', labeled_num=2)


def test_bad_num_val_and_subset(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'])
    with pytest.raises(ValueError, match='num_val=2 leaves no training case'):
        _ds(root, subset='train', num_val=2)
    with pytest.raises(ValueError, match='num_val must be'):
        _ds(root, num_val=-1)
    with pytest.raises(ValueError, match="unknown subset 'test'"):
        _ds(root, subset='test')
    with pytest.raises(ValueError, match="subset 'val' is empty"):
        _ds(root, subset='val')
    with pytest.raises(ValueError, match='path_template'):
        H5SegDataset(data_root=str(root), path_template='x.h5')
    with pytest.raises(ValueError, match='num_classes'):
        _ds(root, metainfo=dict(classes=('a', 'b', 'c')))


def test_check_files_keys(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'], with_label=False)
    with pytest.raises(KeyError, match=r"a\.h5.*lacks dataset\(s\) \['label'\]"):
        _ds(root, validate=True)
    # the unlabeled subset needs no label
    ds = _ds(root, subset='unlabeled', labeled_num=1, validate=True)
    ds.check_files()
    with pytest.raises(KeyError, match="'label'"):
        ds.check_files(keys=('image', 'label'))


def test_check_files_shapes(tmp_path):
    root = _make_root(tmp_path, ['a'], shape=(8, 8, 8), label_shape=(8, 8, 7))
    with pytest.raises(ValueError, match=r'a\.h5.*label shape \(8, 8, 7\).*\(8, 8, 8\)'):
        _ds(root, validate=True)
    # channels-first 4-D image is fine
    root2 = tmp_path / 'r2'
    _write_case(root2 / 'a.h5', shape=(2, 8, 8, 6), label_shape=(8, 8, 6))
    (root2 / 'train.list').write_text('a\n')
    _ds(root2, validate=True)


def test_check_files_corrupt(tmp_path):
    root = _make_root(tmp_path, ['a', 'b'])
    data = (root / 'b.h5').read_bytes()
    (root / 'b.h5').write_bytes(data[:len(data) // 3])
    ds = _ds(root)  # no header read without validate
    with pytest.raises(ValueError, match=r'b\.h5.*truncated or corrupt'):
        ds.check_files()
    (root / 'b.h5').write_text('not hdf5')
    with pytest.raises(ValueError, match=r'b\.h5'):
        _ds(root, validate=True)


def test_env_var_expansion(tmp_path, monkeypatch):
    root = _make_root(tmp_path, ['a'])
    monkeypatch.setenv('MY_FDPL_TEST_ROOT', str(root.parent))
    ds = H5SegDataset(data_root='$MY_FDPL_TEST_ROOT/root', ann_file='train.list')
    assert ds.data_root == str(root)
    assert os.path.isfile(ds.get_data_info(0)['img_path'])
