"""End to end on tiny synthetic data: train -> test, resume equivalence, 2-process DDP."""
import csv
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import fdpl  # noqa: F401
from fdpl.datasets.synthetic import generate_synthetic_la
from fdpl.engine.checkpoint import load_checkpoint_safe
from fdpl.utils import check_config

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'data' / 'configs' / 'fdpl_tiny.py'
#: voxel-to-world matrix written into the test cases; predictions must carry it
AFFINE = np.array([[0.0, 0.0, -0.625, 10.0], [0.0, 0.625, 0.0, -20.0],
                   [1.25, 0.0, 0.0, 30.0], [0.0, 0.0, 0.0, 1.0]])


pytestmark = pytest.mark.usefixtures('one_thread')


def _run(args, data_root, timeout=600):
    env = dict(os.environ, FDPL_DATA_ROOT=str(data_root), OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + [str(a) for a in args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f'{args} failed:\n' + proc.stdout[-4000:] +
                                  proc.stderr[-4000:])
    return proc


def _tiny_root(data_root: Path) -> Path:
    """Generate the tiny config's data (as its datasets would) and return its folder."""
    cfg = Config.fromfile(str(TINY))
    root = data_root / Path(cfg.data_root).name
    return Path(generate_synthetic_la(str(root), **cfg.generate))


def test_train_then_test(tmp_path):
    data = tmp_path / 'data'
    root = _tiny_root(data)
    test_ids = (root / 'test.list').read_text().split()
    shapes = {}
    for case in test_ids:  # give the test cases a non-trivial source affine
        with h5py.File(root / '2018LA_Seg_Training Set' / case / 'mri_norm2.h5', 'r+') as f:
            f.attrs['affine'] = AFFINE
            shapes[case] = f['image'].shape  # stored (W, H, D) like a NIfTI's (x, y, z)

    work = tmp_path / 'train'
    _run(['tools/train.py', TINY, '--work-dir', work], data)
    ckpt = work / 'iter_4.pth'
    assert ckpt.is_file()
    curves = list(work.glob('*/curves.png'))
    assert len(curves) == 1 and curves[0].stat().st_size > 0

    out, show, test_work = tmp_path / 'preds', tmp_path / 'overlays', tmp_path / 'test'
    proc = _run(['tools/test.py', TINY, ckpt, '--work-dir', test_work, '--out', out,
                 '--show-dir', show], data)
    assert 'dice' in proc.stdout.lower()
    # one row per predictor of the two-network model, the headline (infer_with=net1) marked
    table = {line.split(' | ')[0].strip(): line for line in proc.stdout.splitlines()
             if ' | ' in line}
    assert {'SN1 *', 'SN2', 'mean'} <= set(table), proc.stdout[-2000:]
    assert '* headline: net1' in proc.stdout

    metrics = json.loads((test_work / 'metrics.json').read_text())
    for key in ('dice', 'jaccard', 'hd95', 'asd'):
        assert key in metrics['summary'], metrics['summary'].keys()
    assert len(metrics['per_case']) == len(test_ids)
    assert metrics['headline'] == 'net1'
    assert list(metrics['per_predictor']) == ['net1', 'net2', 'mean']
    assert metrics['per_predictor']['net1'] == metrics['summary']
    dice = metrics['summary']['dice']['mean']
    assert f'{dice:.2f} +- ' in table['SN1 *']
    with open(test_work / 'per_case.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(test_ids)
    assert [r['predictor'] for r in rows] == [p for p in ('net1', 'net2', 'mean')
                                              for _ in test_ids]

    # --infer-with scores one predictor and makes it the headline
    one_work = tmp_path / 'test_net2'
    one = _run(['tools/test.py', TINY, ckpt, '--work-dir', one_work, '--infer-with', 'net2'],
               data)
    assert 'SN2 *' in one.stdout and 'SN1' not in one.stdout
    one_metrics = json.loads((one_work / 'metrics.json').read_text())
    assert one_metrics['headline'] == 'net2' and list(one_metrics['per_predictor']) == ['net2']
    assert one_metrics['summary'] == metrics['per_predictor']['net2']

    import nibabel as nib
    for case in test_ids:
        img = nib.load(str(out / f'{case}.nii.gz'))
        np.testing.assert_allclose(img.affine, AFFINE, atol=1e-6)
        assert img.shape == shapes[case]
        assert set(np.unique(np.asarray(img.dataobj)).tolist()) <= {0, 1}
        png = show / f'{case}.png'
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def _runner(work_dir: Path, max_iters: int, resume: bool = False) -> Runner:
    cfg = Config.fromfile(str(TINY))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'resume_{uuid.uuid4().hex[:8]}'
    cfg.log_level = 'WARNING'
    # validation at 4 and 8 in every run: it must not disturb the random streams
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4)
    # the same schedule whatever max_iters is: PolyLR ends at 8 in every run
    cfg.param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False,
                                begin=0, end=8)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=4,
                                        save_best='dice', rule='greater')
    assert cfg.train_dataloader.num_workers == 0
    cfg.resume = resume
    check_config(cfg)
    return Runner.from_cfg(cfg)


def test_resume_is_bitwise_identical(tmp_path, monkeypatch):
    """4 iterations + resume to 8 == 8 iterations in one go (weights of both nets)."""
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path / 'data'))
    _runner(tmp_path / 'a', 4).train()
    first = load_checkpoint_safe(str(tmp_path / 'a' / 'iter_4.pth'))
    assert 'pseudo_label_hook' in first and 'rng_state' in first
    resumed = _runner(tmp_path / 'a', 8, resume=True)
    resumed.train()
    assert resumed.iter == 8
    straight = _runner(tmp_path / 'b', 8)
    straight.train()
    a, b = resumed.model.state_dict(), straight.model.state_dict()
    assert a.keys() == b.keys()
    assert any(k.startswith('net1.') for k in a) and any(k.startswith('net2.') for k in a)
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:5]}'
    # and training did move the weights between iteration 4 and 8
    moved = [k for k, v in first['state_dict'].items()
             if v.is_floating_point() and not torch.equal(v, a[k])]
    assert moved


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_two_processes_gloo(tmp_path):
    """``torch.distributed.run`` with 2 CPU processes: trains, logs pseudo-label stats, saves."""
    work = tmp_path / 'ddp'
    proc = _run([
        '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={_free_port()}',
        'tools/train.py', TINY, '--launcher', 'pytorch', '--work-dir', work, '--cfg-options',
        'env_cfg.dist_cfg.backend=gloo', 'train_cfg.max_iters=2',
        'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
        'train_dataloader.sampler.labeled_per_batch=1',
        'train_dataloader.sampler.unlabeled_per_batch=1', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None'
    ], tmp_path / 'data')
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    scalars = list(work.glob('*/vis_data/scalars.json'))
    assert len(scalars) == 1  # rank 0 only
    rows = [json.loads(line) for line in scalars[0].read_text().splitlines() if line.strip()]
    assert len(rows) == 2
    for row in rows:
        assert 0.0 <= row['pl_fix1_fg'] <= 1.0 and 0.0 <= row['pl_dyn2_fg'] <= 1.0
        assert row['loss_fix_1'] >= 0.0 and row['loss_sup_2'] > 0.0
    ckpt = load_checkpoint_safe(str(work / 'iter_2.pth'))
    assert ckpt['meta']['iter'] == 2
    assert any(k.startswith('net1.') for k in ckpt['state_dict'])
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])
