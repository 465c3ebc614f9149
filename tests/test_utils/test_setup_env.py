"""Process setup of the tools: cwd on sys.path, CPU process groups."""
import os
import socket
import sys

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from fdpl.utils import add_cwd_to_path, setup_cpu_distributed


def test_add_cwd_to_path(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, 'path', ['/somewhere/tools'])
    monkeypatch.chdir(tmp_path)
    assert add_cwd_to_path() == str(tmp_path)
    assert sys.path == ['/somewhere/tools', str(tmp_path)]
    add_cwd_to_path()  # idempotent
    assert sys.path.count(str(tmp_path)) == 1


def test_setup_cpu_distributed_does_nothing_without_launcher():
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='gloo'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only path')
def test_setup_cpu_distributed_needs_the_launcher_env(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(KeyError, match='torch.distributed.run'):
        setup_cpu_distributed(Config(dict(env_cfg=dict())), 'pytorch')


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only path')
def test_setup_cpu_distributed_single_process(monkeypatch):
    assert not torch_dist.is_initialized()
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for key, value in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    try:
        assert setup_cpu_distributed(cfg, 'pytorch') is True
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.broadcast_buffers is False
        # an open group is left alone
        assert setup_cpu_distributed(cfg, 'pytorch') is False
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert os.environ['RANK'] == '0'
