"""Same seed, same weights; the labels of unlabeled cases never reach training.

Both properties are checked through ``tools/train.py`` on the tiny FDPL
config (two V-Nets, 4 iterations, labeled and unlabeled streams).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from mmengine.config import Config

import fdpl  # noqa: F401
from fdpl.engine.checkpoint import load_checkpoint_safe
from fdpl.registry import DATASETS

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'data' / 'configs' / 'fdpl_tiny.py'


def _train(work: Path, data_root: Path, *extra: str) -> dict:
    env = dict(os.environ, FDPL_DATA_ROOT=str(data_root), OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    cmd = [sys.executable, 'tools/train.py', str(TINY), '--work-dir', str(work), *extra]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return load_checkpoint_safe(str(work / 'iter_4.pth'))


def _differing(a: dict, b: dict) -> list:
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


def _monitoring(work: Path) -> list:
    """The logged Dice of the pseudo-labels against the unlabeled cases' labels."""
    scalars = next(work.glob('*/vis_data/scalars.json'))
    rows = [json.loads(line) for line in scalars.read_text().splitlines() if line.strip()]
    return [r[k] for r in rows for k in sorted(r) if k.endswith('_dice_gt')]


def _unlabeled_files(data_root: Path) -> list:
    """h5 files of the config's unlabeled stream (building the dataset generates the data)."""
    os.environ['FDPL_DATA_ROOT'] = str(data_root)
    try:
        cfg = Config.fromfile(str(TINY))
        unlabeled = [d for d in cfg.train_dataloader.dataset.datasets
                     if d.get('subset') == 'unlabeled']
        assert len(unlabeled) == 1
        ds = DATASETS.build(dict(unlabeled[0], pipeline=[]))
        files = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    finally:
        del os.environ['FDPL_DATA_ROOT']
    assert files and all(not ds.get_data_info(i)['labeled'] for i in range(len(ds)))
    return files


@pytest.mark.filterwarnings('ignore')
def test_same_seed_same_weights_and_unlabeled_labels_unused(tmp_path):
    data = tmp_path / 'data'
    files = _unlabeled_files(data)
    seed = ['--cfg-options', 'randomness.seed=3']
    first = _train(tmp_path / 'a', data, '--deterministic', *seed)
    second = _train(tmp_path / 'b', data, '--deterministic', *seed)
    # 1. two runs with the same seed give bit-identical weights (and optimizer state)
    assert not _differing(first['state_dict'], second['state_dict'])
    momenta = [s['momentum_buffer'] for s in first['optimizer']['state'].values()]
    momenta2 = [s['momentum_buffer'] for s in second['optimizer']['state'].values()]
    assert len(momenta) == len(momenta2) > 0
    assert all(torch.equal(x, y) for x, y in zip(momenta, momenta2))

    # 2. replace the labels stored in the unlabeled cases' files by random noise
    rng = np.random.default_rng(0)
    for path in files:
        with h5py.File(path, 'r+') as f:
            shape = f['label'].shape
            f['label'][...] = rng.integers(0, 2, size=shape).astype(f['label'].dtype)
    noisy = _train(tmp_path / 'c', data, '--deterministic', *seed)
    differ = _differing(first['state_dict'], noisy['state_dict'])
    assert not differ, f'the unlabeled labels changed {len(differ)} tensors, e.g. {differ[:3]}'
    # the noise did reach the monitoring, so the labels were read, and only there
    assert _monitoring(tmp_path / 'a') == _monitoring(tmp_path / 'b')
    assert _monitoring(tmp_path / 'a') != _monitoring(tmp_path / 'c')
    # the pseudo-label losses were on, so the unlabeled stream did train the networks
    scalars = next((tmp_path / 'a').glob('*/vis_data/scalars.json')).read_text().splitlines()
    fix = [json.loads(line).get('loss_fix_1') for line in scalars if 'loss_fix_1' in line]
    assert fix and max(fix) > 0
