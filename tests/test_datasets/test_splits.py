"""Split files: canonical and random splits, validation, and their use by the datasets."""
import hashlib
import json
import logging
import os
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from fdpl.datasets import H5SegDataset, LADataset, NiftiSegDataset, SyntheticLADataset
from fdpl.datasets.splits import (SPLIT_FORMAT, file_sha256, load_split, make_canonical_split,
                                  make_random_split, make_split, split_file_name,
                                  split_subset_ids, write_split)

REPO = Path(__file__).resolve().parents[2]
LA_SPLITS = REPO / 'configs' / '_base_' / 'splits' / 'la'
LA_SAMPLE = REPO.parent / 'shared' / 'data' / 'LA-sample'
LA_LISTS = Path(os.environ.get('FDPL_DATA_ROOT') or REPO / 'data') / 'LA'

IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
TEST = ['t1', 't2']


# ------------------------------------------------------------------ pure functions
def test_canonical_split_by_hand():
    s = make_canonical_split(IDS, 3, num_val=2, test_ids=TEST, dataset='Toy',
                             source=dict(list='train.list', test_list='test.list'))
    assert s['labeled'] == ['a', 'b', 'c']
    assert s['unlabeled'] == ['d', 'e', 'f']
    assert s['val'] == ['g', 'h']
    assert s['test'] == ['t1', 't2']
    assert (s['format'], s['dataset'], s['strategy'], s['seed'], s['labeled_num']) == (
        SPLIT_FORMAT, 'Toy', 'canonical', None, 3)
    assert s['source'] == dict(list='train.list', test_list='test.list', manifest=None,
                               manifest_sha256=None)
    assert list(s) == ['format', 'dataset', 'strategy', 'seed', 'labeled_num', 'source',
                       'labeled', 'unlabeled', 'val', 'test']


def test_random_split_by_hand():
    # default_rng(0).permutation(6) == [3, 2, 5, 4, 0, 1] over a..f; g, h stay val
    s0 = make_random_split(IDS, 3, 0, num_val=2, test_ids=TEST)
    assert (s0['labeled'], s0['unlabeled'], s0['val'], s0['test']) == (
        ['d', 'c', 'f'], ['e', 'a', 'b'], ['g', 'h'], TEST)
    assert (s0['strategy'], s0['seed'], s0['labeled_num']) == ('random', 0, 3)
    # default_rng(1).permutation(6) == [4, 0, 2, 1, 5, 3]
    s1 = make_random_split(IDS, 3, 1, num_val=2, test_ids=TEST)
    assert (s1['labeled'], s1['unlabeled']) == (['e', 'a', 'c'], ['b', 'f', 'd'])


def test_random_split_reproducible_and_seed_dependent():
    runs = {k: make_random_split(IDS + [f'x{i}' for i in range(20)], 5, k, num_val=4)
            for k in range(4)}
    assert runs[2] == make_random_split(IDS + [f'x{i}' for i in range(20)], 5, 2, num_val=4)
    assert len({tuple(r['labeled']) for r in runs.values()}) == 4
    assert len({tuple(r['val']) for r in runs.values()}) == 1  # validation fixed by default
    # the same seed gives nested labeled sets for growing counts
    small = make_random_split(IDS, 2, 7, num_val=2)
    big = make_random_split(IDS, 4, 7, num_val=2)
    assert big['labeled'][:2] == small['labeled']


def test_random_split_shuffle_val():
    s = make_random_split(IDS, 3, 0, num_val=2, shuffle_val=True)
    assert (s['labeled'], s['unlabeled'], s['val']) == (['c', 'e', 'd'], ['g', 'f', 'a'],
                                                        ['b', 'h'])
    assert sorted(s['labeled'] + s['unlabeled'] + s['val']) == IDS


def test_ids_without_label_only_unlabeled():
    for s in (make_canonical_split(IDS, 2, num_val=1, unlabeled_ids=['u1', 'u0']),
              make_random_split(IDS, 2, 3, num_val=1, unlabeled_ids=['u1', 'u0'])):
        assert s['unlabeled'][-2:] == ['u1', 'u0']
        assert not {'u0', 'u1'} & set(s['labeled'] + s['val'] + s['test'])


def test_make_split_dispatch_and_bad_arguments():
    assert make_split('canonical', IDS, 2) == make_canonical_split(IDS, 2)
    assert make_split('random', IDS, 2, seed=1) == make_random_split(IDS, 2, 1)
    with pytest.raises(ValueError, match='needs a seed'):
        make_split('random', IDS, 2)
    with pytest.raises(ValueError, match='takes no seed'):
        make_split('canonical', IDS, 2, seed=0)
    with pytest.raises(ValueError, match=r'labeled_num=7 exceeds the 6 training ids'):
        make_canonical_split(IDS, 7, num_val=2)
    with pytest.raises(ValueError, match='labeled_num must be an int >= 1'):
        make_canonical_split(IDS, 0)
    with pytest.raises(ValueError, match=r"share \['b'\]"):
        make_canonical_split(IDS, 2, test_ids=['b'])


def test_file_names():
    assert split_file_name('LA', 8) == 'la_labeled8_canonical.json'
    assert split_file_name('LA', 8, 2) == 'la_labeled8_seed2.json'
    assert split_file_name('My Data', 4, 0) == 'my_data_labeled4_seed0.json'


def test_subset_ids():
    s = make_canonical_split(IDS, 3, num_val=2, test_ids=TEST)
    assert split_subset_ids(s, 'train') == IDS[:6]
    assert split_subset_ids(s, 'all') == IDS + TEST
    assert split_subset_ids(s, 'test') == TEST
    with pytest.raises(ValueError, match="unknown subset 'dev'"):
        split_subset_ids(s, 'dev')


# ------------------------------------------------------------------ files
def _write_json(path: Path, obj) -> str:
    path.write_text(json.dumps(obj), encoding='utf-8')
    return str(path)


def test_write_load_round_trip_and_sha(tmp_path):
    s = make_random_split(IDS, 3, 5, num_val=2, test_ids=TEST, dataset='Toy')
    path = tmp_path / 'sub' / 'toy_labeled3_seed5.json'
    write_split(str(path), s)
    assert load_split(str(path)) == s
    text = path.read_text(encoding='utf-8')
    assert text.endswith('\n') and text.count('\n    "') >= len(IDS) + len(TEST)  # one id a line
    assert file_sha256(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize('edit, message', [
    (lambda s: s.update(format='fdpl-split/0'), r'"format" must be .fdpl-split/1.'),
    (lambda s: s.pop('format'), r'"format" must be'),
    (lambda s: s.pop('val'), r"missing key\(s\) \['val'\]"),
    (lambda s: s.pop('labeled_num'), r"missing key\(s\) \['labeled_num'\]"),
    (lambda s: s.update(test='t1'), r"part 'test' must be a list"),
    (lambda s: s.update(test=['t1', 3]), r"part 'test' must hold non-empty str ids"),
    (lambda s: s.update(unlabeled=['d', 'e', 'd']), r"part 'unlabeled' lists these ids more "
     r"than once: \['d'\]"),
    (lambda s: s.update(labeled_num=4), r'"labeled_num" is 4 but part .labeled. holds 3 ids'),
    (lambda s: s.update(strategy='stratified'), r'"strategy" must be one of'),
    (lambda s: s.update(strategy='random', seed=None), r'random split needs its "seed"'),
])
def test_load_split_rejects(tmp_path, edit, message):
    s = make_canonical_split(IDS, 3, num_val=2, test_ids=TEST)
    edit(s)
    path = _write_json(tmp_path / 'bad.json', s)
    with pytest.raises(ValueError, match=message) as err:
        load_split(path)
    assert path in str(err.value)


def test_overlap_error_names_the_ids_and_the_file(tmp_path):
    s = make_canonical_split(IDS, 3, num_val=2, test_ids=TEST)
    s['val'] = ['g', 'h', 'b']
    s['test'] = ['t1', 't2', 'e', 'a']
    path = _write_json(tmp_path / 'overlap.json', s)
    with pytest.raises(ValueError) as err:
        load_split(path)
    msg = str(err.value)
    assert path in msg
    assert "'labeled' and 'val' share ['b']" in msg
    assert "'labeled' and 'test' share ['a']" in msg
    assert "'unlabeled' and 'test' share ['e']" in msg
    with pytest.raises(ValueError, match="'labeled' and 'val' share"):
        write_split(str(tmp_path / 'out.json'), s)
    assert not (tmp_path / 'out.json').exists()


def test_load_split_missing_or_not_json(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.json.*make_splits'):
        load_split(str(tmp_path / 'nowhere.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"format": ', encoding='utf-8')
    with pytest.raises(ValueError, match='bad.json.*not valid JSON'):
        load_split(str(bad))


# ------------------------------------------------------------------ datasets
def _h5(path: Path, with_label: bool = True, shape=(12, 10, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=np.zeros(shape, np.float32))
        if with_label:
            f.create_dataset('label', data=np.zeros(shape, np.uint8))


@pytest.fixture
def h5_root(tmp_path):
    root = tmp_path / 'root'
    for i in IDS + TEST:
        _h5(root / f'{i}.h5')
    (root / 'train.list').write_text(''.join(f'{i}\n' for i in IDS))
    (root / 'test.list').write_text(''.join(f'{i}\n' for i in TEST))
    return root


@pytest.fixture
def split_path(tmp_path):
    s = make_random_split(IDS, 3, 0, num_val=2, test_ids=TEST, dataset='Toy')
    return write_split(str(tmp_path / 'toy_labeled3_seed0.json'), s)


def _ds(root, cls=H5SegDataset, **kw):
    kw.setdefault('serialize_data', False)
    if cls is H5SegDataset:
        kw.setdefault('path_template', '{}.h5')
    return cls(data_root=str(root), **kw)


def _ids(ds):
    return [ds.get_data_info(i)['case_id'] for i in range(len(ds))]


def _flags(ds):
    return [ds.get_data_info(i)['labeled'] for i in range(len(ds))]


class _Capture(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_dataset_takes_ids_from_split_file(h5_root, split_path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    logger = MMLogger.get_current_instance()
    cap, level = _Capture(), logger.level
    logger.addHandler(cap)
    logger.setLevel(logging.INFO)
    try:
        lab = _ds(h5_root, subset='labeled', split_file=split_path, validate=True)
    finally:
        logger.removeHandler(cap)
        logger.setLevel(level)
    assert _ids(lab) == ['d', 'c', 'f'] and _flags(lab) == [True] * 3
    assert any('H5SegDataset: split toy_labeled3_seed0.json: 3 labeled volumes, 3 unlabeled, '
               '2 val, 2 test' in line for line in cap.lines), cap.lines
    assert lab.split_file == os.path.abspath(split_path) and os.path.isabs(lab.split_file)
    assert lab.resolved_labeled_num == 3 and lab.manifest_file is None

    unl = _ds(h5_root, subset='unlabeled', split_file=split_path, validate=True)
    assert _ids(unl) == ['e', 'a', 'b'] and _flags(unl) == [False] * 3
    assert _ids(_ds(h5_root, subset='val', split_file=split_path)) == ['g', 'h']
    test = _ds(h5_root, subset='test', split_file=split_path, ann_file=None)
    assert _ids(test) == TEST and _flags(test) == [True, True]
    assert _ids(_ds(h5_root, subset='train', split_file=split_path)) == ['d', 'c', 'f', 'e',
                                                                          'a', 'b']
    everything = _ds(h5_root, subset='all', split_file=split_path)
    assert _ids(everything) == ['d', 'c', 'f', 'e', 'a', 'b', 'g', 'h', 't1', 't2']
    assert _flags(everything) == [True] * 3 + [False] * 3 + [True] * 4
    # a relative path is resolved against the working folder
    rel = _ds(h5_root, subset='labeled', split_file=os.path.basename(split_path))
    assert rel.split_file == os.path.abspath(split_path)


def test_dataset_without_split_file_is_unchanged(h5_root):
    ds = _ds(h5_root, subset='labeled', labeled_num=3, num_val=2)
    assert _ids(ds) == ['a', 'b', 'c']
    assert ds.split_file is None and ds.manifest_file is None and ds.resolved_labeled_num == 3
    with pytest.raises(ValueError, match=r"subset 'test' needs the option `split_file`"):
        _ds(h5_root, subset='test')


def test_labeled_num_conflict(h5_root, split_path):
    with pytest.raises(ValueError) as err:
        _ds(h5_root, subset='labeled', split_file=split_path, labeled_num=4)
    msg = str(err.value)
    assert split_path in msg and 'labeled_num=3' in msg and '`labeled_num`=4' in msg
    assert '`split_file`' in msg
    with pytest.raises(ValueError, match=r'`labeled_num`=0.6 \(4 of 6 training cases\)'):
        _ds(h5_root, subset='val', split_file=split_path, labeled_num=0.6)
    # agreeing options are accepted: an int, a ratio that resolves to it, num_val
    assert len(_ds(h5_root, subset='labeled', split_file=split_path, labeled_num=3,
                   num_val=2)) == 3
    assert len(_ds(h5_root, subset='labeled', split_file=split_path, labeled_num=0.5)) == 3
    with pytest.raises(ValueError, match=r'2 val ids, which conflicts with the option '
                       r'`num_val`=3'):
        _ds(h5_root, subset='val', split_file=split_path, num_val=3)


def test_bad_split_file_in_dataset(h5_root, tmp_path):
    with pytest.raises(FileNotFoundError, match=r'H5SegDataset: option `split_file`: .*none'):
        _ds(h5_root, subset='labeled', split_file=str(tmp_path / 'none.json'))
    s = make_canonical_split(IDS, 3, num_val=2, test_ids=TEST)
    s['test'] = ['h', 't2']
    path = _write_json(tmp_path / 'clash.json', s)
    with pytest.raises(ValueError, match=r"option `split_file`: split file .*clash.json.*'val' "
                       r"and 'test' share \['h'\]"):
        _ds(h5_root, subset='labeled', split_file=path, lazy_init=True)
    s = make_canonical_split(IDS, 3, num_val=2, test_ids=TEST)
    s['unlabeled'] = []
    path = _write_json(tmp_path / 'no_unlabeled.json', s)
    with pytest.raises(ValueError, match=r"no_unlabeled.json.*subset 'unlabeled' is empty"):
        _ds(h5_root, subset='unlabeled', split_file=path)


def test_split_id_without_file(h5_root, tmp_path):
    s = make_canonical_split(IDS + ['ghost'], 3, num_val=2, test_ids=TEST)  # val: h, ghost
    path = write_split(str(tmp_path / 'ghost.json'), s)
    with pytest.raises(FileNotFoundError, match=r'ghost\.h5') as err:
        _ds(h5_root, subset='val', split_file=path)
    assert 'ghost.json' in str(err.value)


def _nii(path: Path, shape=(6, 5, 4)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), str(path))


def test_nifti_dataset_with_split_file(tmp_path):
    root = tmp_path / 'nifti'
    cases = ['c0', 'c1', 'c2', 'c3', 'u0']
    for c in cases:
        _nii(root / 'imagesTr' / f'{c}.nii.gz')
        if c != 'u0':
            _nii(root / 'labelsTr' / f'{c}.nii.gz')
    s = make_canonical_split(['c0', 'c1', 'c2'], 1, num_val=1, test_ids=['c3'],
                             unlabeled_ids=['u0'])
    path = write_split(str(tmp_path / 'n_labeled1_canonical.json'), s)
    unl = _ds(root, NiftiSegDataset, subset='unlabeled', split_file=path, validate=True)
    assert _ids(unl) == ['c1', 'u0']
    assert unl.get_data_info(1)['seg_map_path'] is None
    assert _ids(_ds(root, NiftiSegDataset, subset='test', split_file=path)) == ['c3']
    lab = _ds(root, NiftiSegDataset, subset='labeled', split_file=path)
    assert _ids(lab) == ['c0'] and lab.resolved_labeled_num == 1 and lab.manifest_file is None
    everything = _ds(root, NiftiSegDataset, subset='all', split_file=path)
    assert _flags(everything) == [True, False, False, True, True]
    with pytest.raises(ValueError, match=r'n_labeled1_canonical.json.*has labeled_num=1.*'
                       r'`labeled_num`=2'):
        _ds(root, NiftiSegDataset, subset='labeled', split_file=path, labeled_num=2)
    # without a split file nothing changes
    plain = _ds(root, NiftiSegDataset, subset='unlabeled', labeled_num=1)
    assert _ids(plain) == ['c1', 'c2', 'c3', 'u0']
    assert plain.split_file is None and plain.resolved_labeled_num == 1


@pytest.mark.skipif(not LA_SAMPLE.is_dir(), reason='LA sample not available')
def test_la_dataset_with_split_file(tmp_path):
    train = (LA_SAMPLE / 'train.list').read_text().split()
    test = (LA_SAMPLE / 'test.list').read_text().split()
    path = write_split(str(tmp_path / 'la_labeled1_canonical.json'),
                       make_canonical_split(train, 1, num_val=1, test_ids=test, dataset='LA'))
    for subset, ids in (('labeled', train[:1]), ('unlabeled', train[1:2]), ('val', train[2:]),
                        ('test', test)):
        ds = LADataset(data_root=str(LA_SAMPLE), subset=subset, split_file=path,
                       serialize_data=False)
        old = LADataset(data_root=str(LA_SAMPLE), subset=subset if subset != 'test' else 'all',
                        ann_file='test.list' if subset == 'test' else 'train.list',
                        labeled_num=1 if subset in ('labeled', 'unlabeled') else None,
                        num_val=0 if subset == 'test' else 1, serialize_data=False)
        assert _ids(ds) == ids == _ids(old)
        assert _flags(ds) == _flags(old)


def test_synthetic_dataset_with_split_file(tmp_path):
    root = tmp_path / 'synth'
    gen = dict(num_train=4, num_test=1, shape=(8, 16, 16), seed=0)
    ds = SyntheticLADataset(data_root=str(root), generate=gen, serialize_data=False)
    train = (root / 'train.list').read_text().split()
    path = write_split(str(tmp_path / 'synth_labeled1_seed0.json'),
                       make_random_split(train, 1, 0, num_val=1, test_ids=['synth_test_000']))
    lab = SyntheticLADataset(data_root=str(root), generate=gen, subset='labeled',
                             split_file=path, serialize_data=False)
    assert _ids(lab) == load_split(path)['labeled'] and len(ds) == 4


# ------------------------------------------------------------------ the shipped LA files
LA_FILES = sorted(LA_SPLITS.glob('*.json'))


def test_la_split_files_shipped():
    names = {p.name for p in LA_FILES}
    assert names == {f'la_labeled{n}_{t}.json' for n in (4, 8, 16)
                     for t in ('canonical', 'seed0', 'seed1', 'seed2')} | {
                         'la_labeled64_canonical.json'}  # full supervision
    splits = {p.name: load_split(str(p)) for p in LA_FILES}
    c8 = splits['la_labeled8_canonical.json']
    # PROTOCOL.md 1.1: the first ids of train.list and test.list
    assert c8['labeled'][:3] == ['06SR5RBREL16DQ6M8LWS', '0RZDK210BSMWAA6467LU',
                                 '1D7CUD1955YZPGK8XHJX']
    assert c8['test'][:2] == ['UPT6DX9IQY9JAZ7HJKA7', 'UTBUJIWZMKP64E3N73YC']
    train_list = c8['labeled'] + c8['unlabeled'] + c8['val']
    assert len(set(train_list)) == 80 and len(c8['test']) == 20
    for name, s in splits.items():
        n = int(name.split('_labeled')[1].split('_')[0])
        assert (s['dataset'], s['labeled_num'], len(s['unlabeled'])) == ('LA', n, 64 - n)
        assert s['val'] == c8['val'] and s['test'] == c8['test']
        assert sorted(s['labeled'] + s['unlabeled']) == sorted(train_list[:64])
        if s['strategy'] == 'canonical':
            assert s['labeled'] == train_list[:n] and s['unlabeled'] == train_list[n:64]


@pytest.mark.skipif(not (LA_LISTS / 'train.list').is_file(), reason='LA lists not available')
def test_la_split_files_match_the_lists():
    """The shipped files are what tools/make_splits.py writes from train.list / test.list."""
    train = (LA_LISTS / 'train.list').read_text().split()
    test = (LA_LISTS / 'test.list').read_text().split()
    source = dict(list='train.list', test_list='test.list')
    for n in (4, 8, 16, 64):
        canonical = make_canonical_split(train, n, num_val=16, test_ids=test, dataset='LA',
                                         source=source)
        assert load_split(str(LA_SPLITS / f'la_labeled{n}_canonical.json')) == canonical
        assert canonical['labeled'] == train[:n] and canonical['val'] == train[-16:]
        for k in (0, 1, 2) if n < 64 else ():
            assert load_split(str(LA_SPLITS / f'la_labeled{n}_seed{k}.json')) == \
                make_random_split(train, n, k, num_val=16, test_ids=test, dataset='LA',
                                  source=source)


@pytest.mark.parametrize('rel, n', [
    ('fdpl/vnet_la_5pct.py', 4), ('fdpl/vnet_la_10pct.py', 8), ('fdpl/vnet_la_20pct.py', 16),
    ('supervised/vnet_la_5pct.py', 4), ('supervised/vnet_la_10pct.py', 8),
    ('supervised/vnet_la_20pct.py', 16), ('supervised/vnet_la_full.py', 8),
    ('fdpl/cpu/vnet_la_10pct_half.py', 8), ('supervised/cpu/vnet_la_10pct_half.py', 8),
    ('fdpl/ablations/la_10pct_no_cut.py', 8), ('supervised/cpu/vnet16_la_half_10pct.py', 8),
    ('fdpl/cpu/vnet16_la_half_10pct.py', 8), ('supervised/cpu/vnet16_la_half_full.py', 64),
])
def test_la_configs_point_at_the_matching_split_file(rel, n):
    """``{{fileDirname}}`` in the base file resolves wherever the leaf config lives."""
    cfg = Config.fromfile(str(REPO / 'configs' / rel))
    train = cfg.train_dataloader.dataset
    sets = train.datasets if train.type == 'ConcatDataset' else [train]
    sets = list(sets) + [cfg.val_dataloader.dataset, cfg.test_dataloader.dataset]
    expected = (LA_SPLITS / f'la_labeled{n}_canonical.json').resolve()
    for ds in sets:
        assert Path(ds.split_file).resolve() == expected, ds
        if ds.get('labeled_num') is not None:
            assert ds.labeled_num == n
    assert cfg.test_dataloader.dataset.subset == 'test'


def test_synthetic_configs_use_their_lists():
    cfg = Config.fromfile(str(REPO / 'configs' / 'fdpl' / 'vnet_synthetic.py'))
    sets = list(cfg.train_dataloader.dataset.datasets) + [cfg.val_dataloader.dataset,
                                                          cfg.test_dataloader.dataset]
    assert all(ds.split_file is None for ds in sets)
    assert (cfg.test_dataloader.dataset.ann_file, cfg.test_dataloader.dataset.subset) == (
        'test.list', 'all')
