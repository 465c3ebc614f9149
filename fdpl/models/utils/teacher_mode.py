"""Switch a network into a teaching (no-gradient) mode and back."""
from contextlib import contextmanager
from typing import Iterator, List, Tuple

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd

TEACHER_MODES = ('train_frozen', 'eval', 'train')


@contextmanager
def teacher_mode(module: nn.Module, mode: str = 'train_frozen') -> Iterator[nn.Module]:
    """Context manager setting the BatchNorm / dropout behaviour of a teacher pass.

    Modes:

    * ``'train_frozen'`` (default): BatchNorm normalises with the statistics
      of the teacher's own batch but does not update its running statistics;
      dropout is off.
    * ``'eval'``: BatchNorm uses its running statistics; dropout is off.
    * ``'train'``: plain training mode (dropout on, running statistics
      updated), as some co-training code bases do.

    Every module's ``training`` flag and every BatchNorm's
    ``track_running_stats`` are restored on exit.

    Args:
        module (nn.Module): The teaching network.
        mode (str): One of :data:`TEACHER_MODES`.
    """
    if mode not in TEACHER_MODES:
        raise ValueError(f'teacher mode must be one of {TEACHER_MODES}, got {mode!r}')
    saved: List[Tuple[nn.Module, bool]] = [(m, m.training) for m in module.modules()]
    bn_saved: List[Tuple[_BatchNorm, bool]] = []
    try:
        if mode == 'eval':
            module.eval()
        else:
            module.train()
        if mode == 'train_frozen':
            for m in module.modules():
                if isinstance(m, _DropoutNd):
                    m.eval()
                elif isinstance(m, _BatchNorm):
                    bn_saved.append((m, m.track_running_stats))
                    m.track_running_stats = False
        yield module
    finally:
        for m, flag in bn_saved:
            m.track_running_stats = flag
        for m, flag in saved:
            m.training = flag
