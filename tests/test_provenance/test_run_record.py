"""Run records (env.json) and checkpoint provenance (meta['fdpl'])."""
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import ConcatDataset, Dataset

from fdpl.engine.hooks import RNGStateHook, RunRecordHook, SafeCheckpointHook
from fdpl.provenance.run_record import (collect_env, describe_data, file_sha256, git_state,
                                        iter_leaf_datasets, package_versions, to_json_safe,
                                        write_env_json)

ENV_KEYS = ('fdpl_version', 'git_commit', 'git_dirty', 'python', 'platform', 'packages', 'cuda',
            'cpu', 'seed', 'deterministic', 'config', 'config_file', 'data')
PACKAGES = ('torch', 'mmengine', 'mmcv', 'mmsegmentation', 'numpy', 'medpy')


class _Part(Dataset):
    """Random (1, 4, 4, 4) volumes carrying the attributes fdpl datasets set after init."""

    metainfo = dict(classes=('background', 'foreground'))

    def __init__(self, length, split_file=None, manifest_file=None, labeled=None,
                 subset='labeled'):
        self.length = length
        self.split_file = split_file
        self.manifest_file = manifest_file
        self.resolved_labeled_num = labeled
        self.subset = subset

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        inputs = torch.randn(1, 4, 4, 4)
        return dict(inputs=inputs, labels=(inputs[0] > 0).float())


class _ToyNet(BaseModel):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3, padding=1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.conv(inputs)
        if mode == 'loss':
            return dict(loss=((out - labels[:, None]) ** 2).mean())
        if mode == 'predict':
            return [dict(mean=float(o.mean())) for o in out]
        return out


class _MeanMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(d['mean'] for d in data_samples)

    def compute_metrics(self, results):
        return dict(dice=float(np.mean(results)), num_cases=len(results))


@pytest.fixture
def split_files(tmp_path):
    split = tmp_path / 'split.json'
    split.write_text(json.dumps(dict(format='fdpl-split/1', labeled_num=3,
                                     labeled=['a', 'b', 'c'])))
    manifest = tmp_path / 'manifest.json'
    manifest.write_text('{"format": "fdpl-manifest/1"}')
    return split, manifest


def test_file_sha256(tmp_path):
    f = tmp_path / 'x.bin'
    f.write_bytes(b'fdpl' * 1000)
    assert file_sha256(str(f), chunk_size=7) == hashlib.sha256(b'fdpl' * 1000).hexdigest()
    assert file_sha256(None) is None and file_sha256(str(tmp_path / 'missing')) is None


def test_git_state_outside_a_checkout_is_none(tmp_path):
    assert git_state(str(tmp_path)) == dict(git_commit=None, git_dirty=None, git_root=None)
    assert package_versions(['torch', 'surely-not-installed-pkg']) == {
        'torch': torch.__version__, 'surely-not-installed-pkg': None}


def test_to_json_safe():
    obj = {1: (np.float32(0.5), np.int64(3)), 'nan': float('nan'), 'arr': np.arange(3),
           'big': torch.zeros(100, 100), 'cls': Dataset, 's': {2, 1}, 'b': b'x'}
    out = to_json_safe(obj)
    json.dumps(out, allow_nan=False)
    assert out['1'] == [0.5, 3] and out['nan'] is None and out['arr'] == [0, 1, 2]
    assert out['big'].startswith('<Tensor shape=(100, 100)')
    assert out['cls'] == 'torch.utils.data.dataset.Dataset' and out['s'] == [1, 2]


def test_describe_data_walks_concat_and_config(split_files, tmp_path):
    split, manifest = split_files
    concat = ConcatDataset([_Part(2, str(split), None, 3),
                            _Part(5, str(split), str(manifest), 3, 'unlabeled')])
    assert len(list(iter_leaf_datasets(concat))) == 2
    cfg = dict(test_dataloader=dict(dataset=dict(type='X', split_file=str(split),
                                                 manifest_file=str(tmp_path / 'none.json'))))
    data = describe_data(dict(train=concat), cfg)
    assert data['split_file'] == str(split) and data['manifest_file'] == str(manifest)
    assert data['split_sha256'] == hashlib.sha256(split.read_bytes()).hexdigest()
    assert data['manifest_sha256'] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert data['labeled_num'] == 3 and data['dataset_type'] == '_Part'
    assert [d['subset'] for d in data['datasets']] == ['labeled', 'unlabeled']
    assert [d['num_samples'] for d in data['datasets']] == [2, 5]
    assert [c['where'] for c in data['config_files']] == [
        'test_dataloader.dataset.split_file', 'test_dataloader.dataset.manifest_file']
    assert data['config_files'][1]['sha256'] is None  # missing file: no hash
    # only config keys: the first split file of the config, labeled count from the file
    only_cfg = describe_data(None, cfg)
    assert only_cfg['split_file'] == str(split) and only_cfg['labeled_num'] == 3


def test_collect_env_keys_and_json(tmp_path, split_files):
    split, _ = split_files
    cfg = dict(randomness=dict(seed=7, deterministic=True), work_dir=str(tmp_path),
               model=dict(type='M', shape=(1, 2)), arr=np.ones(2))
    record = collect_env(cfg, datasets=[_Part(3, str(split), labeled=3)],
                         extra=dict(checkpoint=dict(sha256='ab')))
    for key in ENV_KEYS:
        assert key in record, key
    assert set(PACKAGES) <= set(record['packages'])
    assert record['packages']['torch'] and record['packages']['numpy']
    assert record['seed'] == 7 and record['deterministic'] is True
    assert record['config']['model']['shape'] == [1, 2]
    assert record['cpu']['count'] >= 1 and record['cpu']['torch_threads'] >= 1
    assert record['data']['labeled_num'] == 3 and record['checkpoint'] == dict(sha256='ab')
    if record['git_commit'] is not None:
        assert len(record['git_commit']) == 40 and isinstance(record['git_dirty'], bool)
    path = write_env_json(str(tmp_path / 'sub' / 'env.json'), record)
    assert json.loads(Path(path).read_text()) == record


def _runner(work_dir, split, name, max_iters=4, hooks=None, save_best='dice', **kwargs):
    torch.manual_seed(0)
    loader = dict(batch_size=2, num_workers=0, collate_fn=dict(type='default_collate'))
    train_set = ConcatDataset([_Part(4, str(split), None, 3), _Part(4, str(split), None, 3,
                                                                    'unlabeled')])
    return Runner(
        model=_ToyNet(), work_dir=str(work_dir), experiment_name=name,
        train_dataloader=dict(dataset=train_set,
                              sampler=dict(type='InfiniteSampler', shuffle=True), **loader),
        val_dataloader=dict(dataset=_Part(2, subset='val'),
                            sampler=dict(type='DefaultSampler', shuffle=False), **loader),
        val_evaluator=dict(type=_MeanMetric), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=2),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False,
                                           save_best=save_best, rule='greater'),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=hooks or [RunRecordHook(), RNGStateHook(), SafeCheckpointHook()],
        randomness=dict(seed=11, deterministic=False), default_scope='fdpl', **kwargs)


def test_hook_writes_env_json_and_checkpoint_meta(tmp_path, split_files):
    split, _ = split_files
    runner = _runner(tmp_path / 'run', split, 'run_record_a')
    runner.train()
    env = json.loads((tmp_path / 'run' / 'env.json').read_text())
    for key in ENV_KEYS:
        assert key in env, key
    assert env['kind'] == 'train' and env['seed'] == 11 and env['deterministic'] is False
    assert env['start_iter'] == 0 and env['resumed_from'] is None
    assert env['data']['split_file'] == str(split) and env['data']['labeled_num'] == 3
    assert [d['role'] for d in env['data']['datasets']] == ['train', 'train', 'val']
    assert (Path(runner.log_dir) / 'env.json').is_file()

    for name, it in (('iter_2.pth', 2), ('iter_4.pth', 4)):
        ckpt = torch.load(tmp_path / 'run' / name, map_location='cpu', weights_only=True)
        stamp = ckpt['meta']['fdpl']
        assert stamp['iter'] == it and stamp['labeled_num'] == 3 and stamp['seed'] == 11
        assert stamp['split_file'] == str(split) and stamp['dataset_type'] == '_Part'
        assert stamp['split_sha256'] == file_sha256(str(split))
        assert isinstance(stamp['config'], str) and stamp['fdpl_version']
        # the checkpoint of a validation's iteration is updated with its score
        assert stamp['validation']['iter'] == it
        assert math.isfinite(stamp['validation']['metrics']['dice'])
        assert stamp['validation']['metrics']['num_cases'] == 2
    best = list((tmp_path / 'run').glob('best_dice_*.pth'))
    assert len(best) == 1
    stamp = torch.load(best[0], weights_only=True)['meta']['fdpl']
    assert best[0].name == f'best_dice_iter_{stamp["validation"]["iter"]}.pth'


def test_hook_without_refresh_keeps_previous_validation(tmp_path, split_files):
    split, _ = split_files
    hooks = [RunRecordHook(refresh_last_checkpoint=False), SafeCheckpointHook()]
    # no best checkpoint: its update would save iter_4.pth again, after the validation
    _runner(tmp_path / 'run', split, 'run_record_b', hooks=hooks, save_best=None).train()
    first = torch.load(tmp_path / 'run' / 'iter_2.pth', weights_only=True)['meta']['fdpl']
    second = torch.load(tmp_path / 'run' / 'iter_4.pth', weights_only=True)['meta']['fdpl']
    assert first['validation'] is None  # saved before the first validation
    assert second['validation']['iter'] == 2


def test_hook_resume_keeps_validation(tmp_path, split_files):
    split, _ = split_files
    _runner(tmp_path / 'run', split, 'run_record_c', max_iters=2).train()
    resumed = _runner(tmp_path / 'run', split, 'run_record_d', max_iters=4, resume=True,
                      load_from=str(tmp_path / 'run' / 'iter_2.pth'),
                      hooks=[RunRecordHook(refresh_last_checkpoint=False),
                             SafeCheckpointHook()], save_best=None)
    resumed.train()
    env = json.loads((tmp_path / 'run' / 'env.json').read_text())
    assert env['start_iter'] == 2 and env['resumed_from']['iter'] == 2
    stamp = torch.load(tmp_path / 'run' / 'iter_4.pth', weights_only=True)['meta']['fdpl']
    assert stamp['validation']['iter'] == 2  # taken over from the resumed checkpoint


def test_hook_is_silent_in_test_runs(tmp_path):
    hook = RunRecordHook()

    class _Runner:
        _train_loop = dict(type='IterBasedTrainLoop')  # not built: a test run

    hook.before_run(_Runner())
    assert hook._record is None


def test_hook_options():
    with pytest.raises(ValueError, match='filename'):
        RunRecordHook(filename='a/env.json')
    with pytest.raises(ValueError, match='refresh_last_checkpoint'):
        RunRecordHook(refresh_last_checkpoint='yes')
