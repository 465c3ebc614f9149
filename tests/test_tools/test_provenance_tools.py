"""Provenance on a tiny run: env.json, checkpoint meta, tools/test.py checks, publish_model."""
import hashlib
import importlib.util
import json
import re
import sys
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import fdpl  # noqa: F401
from fdpl.utils import check_config

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'data' / 'configs' / 'fdpl_tiny.py'


def _tool(name: str):
    """A script of tools/ as a module (its main() runs in this process)."""
    spec = importlib.util.spec_from_file_location(f'fdpl_tools_{name}', REPO / 'tools' /
                                                  f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two iterations of the tiny FDPL config, validation and checkpoint at 2."""
    root = tmp_path_factory.mktemp('provenance')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('FDPL_DATA_ROOT', str(root / 'data'))
        cfg = Config.fromfile(str(TINY))
        cfg.work_dir = str(root / 'train')
        cfg.experiment_name = f'prov_{uuid.uuid4().hex[:8]}'
        cfg.log_level = 'WARNING'
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
        cfg.param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False,
                                    begin=0, end=2)]
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
        check_config(cfg)
        Runner.from_cfg(cfg).train()
        yield dict(root=root, work=root / 'train', ckpt=root / 'train' / 'iter_2.pth', mp=mp)
    torch.set_num_threads(threads)


def _test_tool(monkeypatch, config, ckpt, work, *options):
    monkeypatch.setattr(sys, 'argv', [
        'test.py', str(config), str(ckpt), '--work-dir', str(work), '--cfg-options',
        f'experiment_name=prov_test_{uuid.uuid4().hex[:8]}', 'log_level=WARNING', *options])
    _tool('test').main()


def test_train_work_dir_has_env_json(trained):
    env = json.loads((trained['work'] / 'env.json').read_text())
    for key in ('fdpl_version', 'git_commit', 'git_dirty', 'packages', 'python', 'platform',
                'cuda', 'cpu', 'seed', 'deterministic', 'config', 'config_file', 'data'):
        assert key in env, key
    for pkg in ('torch', 'mmengine', 'mmcv', 'mmsegmentation', 'numpy', 'medpy'):
        assert pkg in env['packages']
    assert env['config']['model']['backbone']['base_channels'] == 2
    assert env['config_file'] == str(TINY)
    assert env['seed'] == 1337 and env['deterministic'] is False
    data = env['data']
    assert data['labeled_num'] == 2 and data['dataset_type'] == 'SyntheticLADataset'
    assert {'split_file', 'split_sha256', 'manifest_file', 'manifest_sha256'} <= set(data)
    assert [d['subset'] for d in data['datasets']] == ['labeled', 'unlabeled', 'val']


def test_checkpoint_meta_loads_with_weights_only(trained):
    ckpt = torch.load(trained['ckpt'], map_location='cpu', weights_only=True)
    stamp = ckpt['meta']['fdpl']
    assert stamp['iter'] == 2 and stamp['labeled_num'] == 2
    assert stamp['dataset_type'] == 'SyntheticLADataset' and stamp['config_file'] == str(TINY)
    assert 'base_channels=2' in stamp['config'].replace(' ', '')
    assert stamp['validation']['iter'] == 2
    assert {'dice', 'jaccard', 'hd95', 'asd', 'num_cases'} <= set(stamp['validation']['metrics'])


def test_test_tool_refuses_a_mismatching_config(trained, monkeypatch, tmp_path):
    work = tmp_path / 'test'
    with pytest.raises(ValueError) as info:
        _test_tool(monkeypatch, TINY, trained['ckpt'], work, 'model.backbone.base_channels=4')
    msg = str(info.value)
    assert re.search(r"first differing state-dict key: 'net1\.[\w.]+' has shape "
                     r'\(2, 1, 3, 3, 3\) in the checkpoint and \(4, 1, 3, 3, 3\) in the model',
                     msg), msg
    assert str(trained['ckpt']) in msg and str(TINY) in msg
    assert not (work / 'metrics.json').exists()  # refused before inference


def test_publish_then_test_the_published_file(trained, monkeypatch, tmp_path):
    publish = _tool('publish_model')
    zoo, entries, page = tmp_path / 'zoo', tmp_path / 'entries', tmp_path / 'model_zoo.md'
    common = ['--out-dir', str(zoo), '--entries-dir', str(entries), '--docs', str(page)]
    publish.main([str(trained['ckpt']), '--name', 'tiny_fdpl'] + common)
    (published, ) = list(zoo.glob('*.pth'))
    sha = hashlib.sha256(published.read_bytes()).hexdigest()
    assert published.name == f'tiny_fdpl_{sha[:8]}.pth'
    ckpt = torch.load(published, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'meta', 'state_dict'}
    assert ckpt['meta']['fdpl']['iter'] == 2
    assert published.stat().st_size < trained['ckpt'].stat().st_size
    entry = json.loads((entries / 'tiny_fdpl.json').read_text())
    assert entry['sha256'] == sha and entry['size'] == published.stat().st_size
    assert entry['config'] == 'tests/data/configs/fdpl_tiny.py'
    assert entry['labeled_num'] == 2 and entry['iter'] == 2 and entry['test_metrics'] is None
    assert entry['validation']['iter'] == 2 and entry['fdpl_version']

    test_work = tmp_path / 'test'
    _test_tool(monkeypatch, TINY, published, test_work)
    metrics = json.loads((test_work / 'metrics.json').read_text())
    env = json.loads((test_work / 'env.json').read_text())
    assert env['kind'] == 'test' and env['checkpoint']['sha256'] == sha
    assert env['checkpoint']['path'] == str(published)
    assert env['checkpoint']['meta']['fdpl']['labeled_num'] == 2
    assert env['data']['datasets'][0]['role'] == 'test'

    with pytest.raises(ValueError, match='exists'):
        publish.main([str(trained['ckpt']), '--name', 'tiny_fdpl'] + common)
    publish.main([str(trained['ckpt']), '--name', 'tiny_fdpl', '--force', '--metrics',
                  str(test_work / 'metrics.json')] + common)
    assert len(list(zoo.glob('*.pth'))) == 1  # same content, same name
    entry = json.loads((entries / 'tiny_fdpl.json').read_text())
    assert entry['test_metrics']['dice'] == metrics['summary']['dice']
    text = page.read_text()
    assert '| tiny_fdpl |' in text and f'`{sha}`' in text
    assert f"{metrics['summary']['dice']['mean']:.2f} ±" in text
    page.unlink()
    publish.main(['--regen-docs', '--entries-dir', str(entries), '--docs', str(page)])
    assert page.read_text() == text
