"""Process-level setup shared by ``tools/train.py`` and ``tools/test.py``."""
import datetime
import logging
import os
import sys
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['add_cwd_to_path', 'setup_cpu_distributed']


def add_cwd_to_path(cwd: Optional[str] = None) -> str:
    """Make modules below the working directory importable.

    ``python tools/train.py`` puts ``tools/`` first on ``sys.path``, not the
    folder it is run from, so a config's ``custom_imports`` such as
    ``projects.<name>.<package>`` (resolved by mmengine with
    ``importlib.import_module``) would not be found. Call this before
    ``Config.fromfile``.

    Args:
        cwd (str, optional): Folder to add. Defaults to ``os.getcwd()``.

    Returns:
        str: The folder added (or already present).
    """
    cwd = os.path.abspath(cwd or os.getcwd())
    if cwd not in (os.path.abspath(p or os.curdir) for p in sys.path):
        sys.path.insert(1, cwd)
    return cwd


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Start a ``torch.distributed.run`` process group on a machine without CUDA.

    mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device``
    before ``init_process_group`` and wraps the model in DDP with
    ``device_ids=[LOCAL_RANK]``; both fail on a CPU-only build of torch.
    Without CUDA this function opens the process group itself (the Runner
    then skips its own ``init_dist``) with the configured
    ``env_cfg.dist_cfg`` (``nccl`` becomes ``gloo``, with a warning), and
    sets ``cfg.model_wrapper_cfg`` to an ``MMDistributedDataParallel``
    without device ids (``broadcast_buffers=False``, the Runner's default)
    unless the config names a wrapper. With CUDA, or another launcher, it
    does nothing.

    Args:
        cfg (Config): The run's config (``model_wrapper_cfg`` may be set).
        launcher (str): The ``--launcher`` option.

    Returns:
        bool: Whether a process group was started here.

    Raises:
        KeyError: ``RANK`` / ``WORLD_SIZE`` are not set (the script was not
            started by ``torch.distributed.run``).
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise KeyError(f'--launcher pytorch needs the environment variables {missing}; start '
                       'the script with `python -m torch.distributed.run '
                       '--nproc_per_node=N ...` (or tools/dist_train.sh)')
    dist_cfg = dict((cfg.get('env_cfg') or {}).get('dist_cfg') or {})
    backend = dist_cfg.pop('backend', 'gloo')
    if backend == 'nccl':
        print_log('env_cfg.dist_cfg.backend=nccl needs CUDA, which is not available; using '
                  'gloo (set --cfg-options env_cfg.dist_cfg.backend=gloo to silence this).',
                  logger='current', level=logging.WARNING)
        backend = 'gloo'
    if dist_cfg.get('timeout') is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(backend=backend, rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']), **dist_cfg)
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    return True
