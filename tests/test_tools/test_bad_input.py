"""Mistakes a new user makes fail before the first iteration, naming the file or option."""
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import fdpl  # noqa: F401
from fdpl.utils import check_config

REPO = Path(__file__).resolve().parents[2]
LA_CFG = REPO / 'configs' / 'fdpl' / 'vnet_la_10pct.py'  # LADataset, 8 labeled, 16 held out
CASE_FILE = '2018LA_Seg_Training Set/{}/mri_norm2.h5'
SHAPE = (16, 16, 12)  # stored (W, H, D)


pytestmark = pytest.mark.usefixtures('one_thread')


def _write_case(path: Path, with_label: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=rng.normal(size=SHAPE).astype(np.float32))
        if with_label:
            label = np.zeros(SHAPE, np.uint8)
            label[4:12, 4:12, 3:9] = 1
            f.create_dataset('label', data=label)


def _make_la(data_root: Path, num_train: int = 26, num_test: int = 2) -> Path:
    """A small data set in the LA layout under ``data_root/LA``."""
    la = data_root / 'LA'
    train = [f'case{i:02d}' for i in range(num_train)]
    test = [f'test{i:02d}' for i in range(num_test)]
    for case in train + test:
        _write_case(la / CASE_FILE.format(case))
    (la / 'train.list').write_text('\n'.join(train) + '\n')
    (la / 'test.list').write_text('\n'.join(test) + '\n')
    return la


def _cfg(tmp_path: Path, monkeypatch, data_root: Path, path: Path = LA_CFG,
         split_file=None) -> Config:
    """The LA config on the hand-made data set.

    Its ids are not LA's, so the subsets come from its list files
    (``split_file=None``) unless a split file of its own is given.
    """
    monkeypatch.setenv('FDPL_DATA_ROOT', str(data_root))
    cfg = Config.fromfile(str(path))
    for ds in cfg.train_dataloader.dataset.datasets + [cfg.val_dataloader.dataset]:
        ds.split_file = split_file
    if split_file is None:
        cfg.test_dataloader.dataset.update(split_file=None, ann_file='test.list', subset='all')
    else:
        cfg.test_dataloader.dataset.split_file = split_file
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'bad_input_{uuid.uuid4().hex[:8]}'
    cfg.log_level = 'WARNING'
    cfg.train_cfg.max_iters = 2
    cfg.model.backbone.base_channels = 2
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.val_dataloader.num_workers = 0
    return cfg


class _CountIters(Hook):
    """Counts the training iterations that started."""

    def __init__(self) -> None:
        self.started = 0

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.started += 1


def _train(cfg: Config) -> None:
    """What tools/train.py does; asserts that no iteration started."""
    check_config(cfg)
    runner = Runner.from_cfg(cfg)
    counter = _CountIters()
    runner.register_hook(counter)
    try:
        runner.train()
    finally:
        assert counter.started == 0, 'the error came after training had started'


def test_good_data_passes_the_checks(tmp_path, monkeypatch):
    """Control: the hand-made data set itself is fine (the datasets build)."""
    from mmengine.registry import init_default_scope

    from fdpl.registry import DATASETS
    _make_la(tmp_path)
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    check_config(cfg)
    init_default_scope('fdpl')
    labeled, unlabeled = cfg.train_dataloader.dataset.datasets
    assert len(DATASETS.build(labeled)) == 8
    assert len(DATASETS.build(unlabeled)) == 2
    assert len(DATASETS.build(cfg.val_dataloader.dataset)) == 16


def test_missing_data_root(tmp_path, monkeypatch):
    nowhere = tmp_path / 'nowhere'
    cfg = _cfg(tmp_path, monkeypatch, nowhere)
    with pytest.raises(FileNotFoundError) as err:
        _train(cfg)
    msg = str(err.value)
    assert str(nowhere / 'LA') in msg and 'data_root' in msg and 'FDPL_DATA_ROOT' in msg


def test_listed_case_without_file(tmp_path, monkeypatch):
    la = _make_la(tmp_path)
    ids = (la / 'train.list').read_text().split()
    ids.insert(3, 'ghost_case')
    (la / 'train.list').write_text('\n'.join(ids) + '\n')
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match=r'ghost_case/mri_norm2\.h5') as err:
        _train(cfg)
    assert 'train.list' in str(err.value)


@pytest.mark.parametrize('index', [0, 9, 12], ids=['labeled', 'unlabeled', 'val'])
def test_truncated_h5(tmp_path, monkeypatch, index):
    la = _make_la(tmp_path)
    case = f'case{index:02d}'
    path = la / CASE_FILE.format(case)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    with pytest.raises(ValueError, match=rf'{case}/mri_norm2\.h5.*truncated or corrupt'):
        _train(cfg)


def test_split_file_case_without_file(tmp_path, monkeypatch):
    """An id of a split file without its volume fails before training, naming the split file."""
    from fdpl.datasets.splits import make_canonical_split, write_split
    la = _make_la(tmp_path)
    ids = (la / 'train.list').read_text().split()
    ids.insert(3, 'ghost_case')
    split_file = tmp_path / 'tiny_labeled8_canonical.json'
    write_split(str(split_file), make_canonical_split(ids, 8, num_val=16, test_ids=['test00']))
    cfg = _cfg(tmp_path, monkeypatch, tmp_path, split_file=str(split_file))
    with pytest.raises(FileNotFoundError, match=r'ghost_case/mri_norm2\.h5') as err:
        _train(cfg)
    assert str(split_file) in str(err.value)


def test_labeled_case_without_label(tmp_path, monkeypatch):
    la = _make_la(tmp_path)
    _write_case(la / CASE_FILE.format('case05'), with_label=False)
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    with pytest.raises(KeyError, match=r"case05/mri_norm2\.h5.*lacks dataset\(s\) \['label'\]"):
        _train(cfg)


def test_unlabeled_case_without_label_is_fine(tmp_path, monkeypatch):
    """Unlabeled cases need no label: the loader skips the monitoring label."""
    from fdpl.datasets.transforms import LoadH5Volume
    la = _make_la(tmp_path)
    path = la / CASE_FILE.format('case09')
    _write_case(path, with_label=False)
    results = LoadH5Volume(num_classes=2)(dict(img_path=str(path), labeled=False))
    assert results['img'].shape == (1, ) + SHAPE[::-1] and 'gt_seg_map' not in results
    with pytest.raises(KeyError, match=r"'label'.*case09"):
        LoadH5Volume(num_classes=2)(dict(img_path=str(path), labeled=True))


def test_labeled_num_larger_than_the_list(tmp_path, monkeypatch):
    _make_la(tmp_path)
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    for ds in cfg.train_dataloader.dataset.datasets:
        ds.labeled_num = 40
    with pytest.raises(ValueError, match=r'labeled_num=40 exceeds the 10 training cases') as err:
        _train(cfg)
    assert 'train.list' in str(err.value)


def test_misspelled_type(tmp_path, monkeypatch):
    _make_la(tmp_path)
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    cfg.model.backbone.type = 'VNett'
    with pytest.raises(KeyError, match='VNett'):
        _train(cfg)


def test_misspelled_top_level_key_next_to_inherited_one(tmp_path, monkeypatch):
    cfg_file = tmp_path / 'typo.py'
    cfg_file.write_text(f"_base_ = [{str(LA_CFG)!r}]\ntrian_cfg = dict(max_iters=100)\n")
    cfg = _cfg(tmp_path, monkeypatch, tmp_path, cfg_file)
    assert cfg.train_cfg.max_iters == 2  # inherited: the typo would be silently ignored
    with pytest.raises(KeyError, match=r"'trian_cfg'.*did you mean 'train_cfg'"):
        _train(cfg)


def test_misspelled_required_key(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    cfg.trian_cfg = cfg.pop('train_cfg')
    with pytest.raises(KeyError, match=r"'trian_cfg'.*did you mean 'train_cfg'"):
        _train(cfg)
    cfg.train_cfg = cfg.pop('trian_cfg')
    cfg.pop('optim_wrapper')
    with pytest.raises(KeyError, match="has no 'optim_wrapper'"):
        _train(cfg)


def test_config_variables_are_not_typos(tmp_path, monkeypatch):
    for path in sorted((REPO / 'configs').rglob('*.py')) + sorted(
            (REPO / 'projects').rglob('configs/*.py')):
        if '_base_' in path.parts:
            continue
        monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path))
        check_config(Config.fromfile(str(path)))


def test_semi_supervised_model_without_pseudo_label_hook(tmp_path, monkeypatch):
    _make_la(tmp_path)
    cfg = _cfg(tmp_path, monkeypatch, tmp_path)
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'PseudoLabelHook']
    with pytest.raises(ValueError, match='SemiSupervisedSegmentor.*no PseudoLabelHook'):
        _train(cfg)


@pytest.mark.skipif(__import__('torch').cuda.is_available(), reason='a GPU runs --amp')
def test_amp_without_gpu_is_refused_with_the_reason(tmp_path):
    """``tools/train.py --amp`` on a CPU: float16 AMP needs CUDA, and bfloat16 training is not
    offered (wrong conv3d gradients in torch 2.13); the message says so before any iteration."""
    import os
    import subprocess
    import sys
    cmd = [sys.executable, 'tools/train.py', 'tests/data/configs/fdpl_tiny.py', '--amp',
           '--work-dir', str(tmp_path / 'w')]
    env = dict(os.environ, FDPL_DATA_ROOT=str(tmp_path / 'data'), OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert '--amp needs a CUDA GPU' in proc.stderr and 'benchmark_bfloat16.py' in proc.stderr
    assert 'Iter(train)' not in proc.stdout + proc.stderr
