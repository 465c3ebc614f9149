"""Checkpoints load with weights_only=True and resume continues a run exactly."""
import collections
import random
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from fdpl.engine.checkpoint import (TYPE_KEY, decode_checkpoint, encode_checkpoint,
                                    load_checkpoint_safe, register_checkpoint_loader)
from fdpl.engine.hooks import RNGStateHook, SafeCheckpointHook

SIZE = 8
HALF, FULL = 4, 8


class _ToyNet(BaseModel):
    """Conv3d + Dropout3d; loss on a (B, 2, D, H, W) output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3, padding=1)
        self.drop = nn.Dropout3d(0.5)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.drop(self.conv(inputs))
        if mode == 'loss':
            return dict(loss=((out - labels[:, None]) ** 2).mean())
        if mode == 'predict':
            return [dict(mean=float(o.mean())) for o in out]
        return out


class _RandomVolumes(Dataset):
    """Random (1, 8, 8, 8) volumes; a random flip (numpy), gain (python) and noise (torch)."""

    metainfo = dict(classes=('background', 'foreground'),
                    palette=np.array([[0, 0, 0], [255, 0, 0]], dtype=np.uint8))

    def __init__(self, length: int = 6) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx: int) -> dict:
        rs = np.random.RandomState(idx)
        img = rs.rand(1, SIZE, SIZE, SIZE).astype(np.float32)
        if np.random.rand() < 0.5:
            img = img[:, :, :, ::-1].copy()
        img = img * random.uniform(0.8, 1.2)
        inputs = torch.from_numpy(img) + 0.1 * torch.randn(1, SIZE, SIZE, SIZE)
        return dict(inputs=inputs, labels=(inputs[0] > 0.5).float())


class _MeanMetric(BaseMetric):
    """Mean of the predictions (validation consumes random numbers in its data)."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(d['mean'] for d in data_samples)

    def compute_metrics(self, results: list) -> dict:
        return dict(mean=float(np.mean(results)))


def _runner(work_dir: Path, max_iters: int, name: str, hooks: Optional[List] = None,
            **kwargs) -> Runner:
    torch.manual_seed(0)  # same initial weights for every runner
    loader = dict(batch_size=2, num_workers=0, collate_fn=dict(type='default_collate'))
    return Runner(
        model=_ToyNet(),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=_RandomVolumes(), sampler=dict(type='InfiniteSampler', shuffle=True),
            **loader),
        val_dataloader=dict(
            dataset=_RandomVolumes(2), sampler=dict(type='DefaultSampler', shuffle=False),
            **loader),
        val_evaluator=dict(type=_MeanMetric),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        # `end` explicit: otherwise it is the first run's max_iters, saved and resumed
        param_scheduler=dict(type='MultiStepLR', milestones=[6], by_epoch=False, end=FULL),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=HALF),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=HALF, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks if hooks is not None else [RNGStateHook(), SafeCheckpointHook()],
        randomness=dict(seed=2024),
        default_scope='fdpl',
        **kwargs)


def _weights(runner: Runner) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def _same(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    """Train HALF iters and save; resume to FULL; train FULL straight."""
    register_checkpoint_loader()
    root = tmp_path_factory.mktemp('runs')
    _runner(root / 'first', HALF, 'ckpt_first').train()
    ckpt = root / 'first' / f'iter_{HALF}.pth'
    resumed = _runner(root / 'resumed', FULL, 'ckpt_resumed', resume=True, load_from=str(ckpt))
    resumed.train()
    straight = _runner(root / 'straight', FULL, 'ckpt_straight')
    straight.train()
    return dict(root=root, ckpt=ckpt, resumed=resumed, straight=straight,
                straight_weights=_weights(straight))


def test_resume_gives_the_weights_of_a_straight_run(runs):
    resumed, straight = runs['resumed'], runs['straight']
    assert resumed.iter == straight.iter == FULL
    assert _same(_weights(resumed), runs['straight_weights'])
    # the message hub was resumed from the checkpoint's history buffers
    loss = resumed.message_hub.get_scalar('train/loss')
    assert isinstance(loss, HistoryBuffer)
    assert len(loss.data[0]) == FULL
    np.testing.assert_array_equal(loss.data[0],
                                  straight.message_hub.get_scalar('train/loss').data[0])


def test_resume_without_rng_state_differs(runs):
    """The comparison above is sensitive: without the RNG state the runs part."""
    runner = _runner(runs['root'] / 'no_rng', FULL, 'ckpt_no_rng', hooks=[SafeCheckpointHook()],
                     resume=True, load_from=str(runs['ckpt']))
    runner.train()
    assert not _same(_weights(runner), runs['straight_weights'])


def test_files_load_with_weights_only(runs):
    for name in ('first', 'straight'):
        for path in sorted((runs['root'] / name).glob('iter_*.pth')):
            assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == []
            raw = torch.load(path, map_location='cpu', weights_only=True)
            assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers',
                    'rng_state'} <= raw.keys()
            assert raw['message_hub']['log_scalars']['train/loss'][TYPE_KEY]
            ckpt = load_checkpoint_safe(str(path))
            assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
            assert isinstance(ckpt['message_hub']['runtime_info']['eta'], np.floating)
            palette = ckpt['meta']['dataset_meta']['palette']
            np.testing.assert_array_equal(palette, _RandomVolumes.metainfo['palette'])
            assert palette.dtype == np.uint8
            assert isinstance(ckpt['param_schedulers'][0]['milestones'], collections.Counter)


def test_load_from_loads_weights(runs):
    runner = _runner(runs['root'] / 'load', FULL, 'ckpt_load', load_from=str(runs['ckpt']))
    runner.load_or_resume()
    saved = load_checkpoint_safe(str(runs['ckpt']))['state_dict']
    assert _same(_weights(runner), dict(saved))
    assert runner.iter == 0


class _Arbitrary:
    """Stands for any pickled object that is not plain data."""

    def __init__(self) -> None:
        self.value = 1


def test_arbitrary_object_is_refused(tmp_path):
    register_checkpoint_loader()
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=_ToyNet().state_dict(), meta=dict(iter=0), extra=_Arbitrary()),
               path)
    with pytest.raises(ValueError, match=r'(?s)evil\.pth.*_Arbitrary.*refuses arbitrary'):
        load_checkpoint_safe(str(path))
    runner = _runner(tmp_path / 'work', FULL, 'ckpt_evil', load_from=str(path))
    with pytest.raises(ValueError, match='_Arbitrary'):
        runner.load_or_resume()
    runner = _runner(tmp_path / 'work2', FULL, 'ckpt_evil2', load_from=str(path), resume=True)
    with pytest.raises(ValueError, match='_Arbitrary'):
        runner.load_or_resume()


def test_plain_mmengine_checkpoint_is_refused(tmp_path):
    """Without SafeCheckpointHook mmengine pickles HistoryBuffer and numpy objects."""
    _runner(tmp_path / 'plain', HALF, 'ckpt_plain', hooks=[]).train()
    with pytest.raises(ValueError, match='HistoryBuffer.*SafeCheckpointHook'):
        load_checkpoint_safe(str(tmp_path / 'plain' / f'iter_{HALF}.pth'))


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='no_such.pth'):
        load_checkpoint_safe('/nonexistent/no_such.pth')


@pytest.mark.parametrize('value', [
    np.arange(6, dtype=np.float16).reshape(2, 3),
    np.arange(4, dtype='>i4'),
    np.array([True, False]),
    np.array([[1, 2]], dtype=np.uint16),
    np.array(['a', 'bc']),
    np.array([1, 'x', None], dtype=object),
    np.zeros((0, 3)),
    np.float64(0.25),
    np.int32(-3),
    np.bool_(True),
])
def test_numpy_round_trip(tmp_path, value):
    ckpt = dict(meta=dict(value=value, nested=[(value, 1)]), state_dict={'w': torch.ones(2)})
    encode_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / 'c.pth')
    back = load_checkpoint_safe(str(tmp_path / 'c.pth'))
    for out in (back['meta']['value'], back['meta']['nested'][0][0]):
        assert type(out) is type(value)
        assert out.dtype == value.dtype
        np.testing.assert_array_equal(out, value)
    assert decode_checkpoint(back) is back


def test_encode_keeps_state_dict_and_refuses_custom_objects():
    state_dict = _ToyNet().state_dict()
    ckpt = dict(state_dict=state_dict, hub=dict(buf=HistoryBuffer([1.0, 2.0], [1, 1])))
    encode_checkpoint(ckpt)
    assert ckpt['state_dict'] is state_dict  # nothing to convert: not copied
    assert ckpt['hub']['buf'][TYPE_KEY]
    with pytest.raises(ValueError, match=r"checkpoint\['meta'\]\['x'\].*_Arbitrary"):
        encode_checkpoint(dict(meta=dict(x=_Arbitrary())))
    with pytest.raises(ValueError, match='key .*3.* of a dict.*numpy.int64'):
        encode_checkpoint(dict(meta={np.int64(3): 1}))
