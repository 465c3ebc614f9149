"""Switch a network into a teaching (no-gradient) mode and back."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor
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


class ReferenceStatsTeacher:
    """A teaching network whose BatchNorm statistics come from one reference batch.

    In the batch-statistics teacher modes (``'train_frozen'``, ``'train'``)
    BatchNorm normalises a window with the statistics of the whole batch it
    is forwarded in, so a window's prediction would depend on which other
    windows share its pass (and on how the windows are chunked). Here that
    dependence is fixed and explicit:

    1. :meth:`reference` forwards the reference batch (the unlabeled fixed
       crops) with BatchNorm in batch-statistics mode and records, for every
       BatchNorm layer, the mean and biased variance of its input, i.e. the
       statistics it normalised with;
    2. :meth:`__call__` forwards any other windows, in any number of calls,
       with every BatchNorm normalising with those recorded statistics.

    A window's output then depends only on the window and the reference
    batch, and a reference sample gets the same output from both methods
    (up to float rounding). In ``'eval'`` mode both methods use the running
    statistics and nothing is recorded.

    ========================  ==========  ===========================
    mode                      dropout     BatchNorm running statistics
    ========================  ==========  ===========================
    ``'train_frozen'``        off         untouched
    ``'eval'``                off         used, untouched
    ``'train'``               on          updated once, by the reference pass
    ========================  ==========  ===========================

    Use as a context manager around both calls; every module's ``training``
    flag and every BatchNorm's ``track_running_stats`` and buffers are
    restored on exit. No gradient is needed: call it under
    ``torch.no_grad()`` or ``torch.inference_mode()``.

    Args:
        module (nn.Module): The teaching network.
        mode (str): One of :data:`TEACHER_MODES`.

    Example:
        >>> with torch.no_grad(), ReferenceStatsTeacher(net) as teacher:
        ...     fixed_logits = teacher.reference(fixed_crops)   # (B_u, K, d, h, w)
        ...     window_logits = teacher(shifted_windows)        # (N, K, d, h, w)
    """

    def __init__(self, module: nn.Module, mode: str = 'train_frozen') -> None:
        if mode not in TEACHER_MODES:
            raise ValueError(f'teacher mode must be one of {TEACHER_MODES}, got {mode!r}')
        self.module = module
        self.mode = mode
        self._bns: List[_BatchNorm] = [m for m in module.modules() if isinstance(m, _BatchNorm)]
        self._stats: Optional[Dict[_BatchNorm, Tuple[Tensor, Tensor]]] = None
        self._context = None

    def __enter__(self) -> 'ReferenceStatsTeacher':
        self._context = teacher_mode(self.module, self.mode)
        self._context.__enter__()
        self._stats = None
        return self

    def __exit__(self, *exc) -> None:
        self._stats = None
        context, self._context = self._context, None
        context.__exit__(*exc)

    @property
    def needs_reference(self) -> bool:
        """Whether BatchNorm uses batch statistics (then :meth:`reference` comes first)."""
        return self.mode != 'eval' and bool(self._bns)

    def _check_entered(self) -> None:
        if self._context is None:
            raise RuntimeError('ReferenceStatsTeacher must be used as a context manager')

    def reference(self, x: Tensor) -> Tensor:
        """Forward the reference batch with batch statistics and record them.

        Args:
            x (Tensor): ``(B, C, d, h, w)`` reference batch.

        Returns:
            Tensor: The module's output on ``x`` (logits).
        """
        self._check_entered()
        if not self.needs_reference:
            return self.module(x)
        # Each BatchNorm writes the batch mean and unbiased variance it normalises with
        # into scratch buffers (momentum 1): no extra pass over the activations.
        counts: Dict[_BatchNorm, int] = {}

        def count(bn: _BatchNorm, inputs) -> None:
            counts[bn] = inputs[0].numel() // inputs[0].shape[1]

        saved = []
        for bn in self._bns:
            ref = bn.running_mean if bn.running_mean is not None else bn.weight
            kw = dict(dtype=ref.dtype if ref is not None else torch.float32,
                      device=ref.device if ref is not None else x.device)
            saved.append((bn, bn.momentum, bn.track_running_stats, bn.running_mean,
                          bn.running_var, bn.num_batches_tracked))
            bn._buffers['running_mean'] = torch.zeros(bn.num_features, **kw)
            bn._buffers['running_var'] = torch.ones(bn.num_features, **kw)
            bn._buffers['num_batches_tracked'] = torch.zeros((), dtype=torch.long,
                                                             device=kw['device'])
            bn.momentum = 1.0
            bn.track_running_stats = True
        handles = [bn.register_forward_pre_hook(count) for bn in self._bns]
        stats: Dict[_BatchNorm, Tuple[Tensor, Tensor]] = {}
        try:
            out = self.module(x)
            for bn in self._bns:
                if bn in counts:  # a layer the forward pass used
                    n = counts[bn]
                    var = bn.running_var * ((n - 1) / n)  # biased: what normalised
                    stats[bn] = (bn.running_mean, var, bn.running_var)
        finally:
            for h in handles:
                h.remove()
            for bn, momentum, track, mean, var, tracked in saved:
                bn.momentum = momentum
                bn.track_running_stats = track
                bn._buffers['running_mean'] = mean
                bn._buffers['running_var'] = var
                bn._buffers['num_batches_tracked'] = tracked
        if self.mode == 'train':  # the one update a plain training-mode pass makes
            for bn, momentum, track, mean, var, tracked in saved:
                if track and mean is not None and bn in stats:
                    tracked.add_(1)
                    factor = momentum if momentum is not None else 1.0 / float(tracked)
                    mean.mul_(1 - factor).add_(stats[bn][0], alpha=factor)
                    var.mul_(1 - factor).add_(stats[bn][2], alpha=factor)
        stats = {bn: (m, v) for bn, (m, v, _) in stats.items()}
        self._stats = stats
        return out

    def __call__(self, x: Tensor) -> Tensor:
        """Forward windows, normalised with the recorded statistics.

        Args:
            x (Tensor): ``(N, C, d, h, w)`` windows; any ``N``, any number of
                calls.

        Returns:
            Tensor: The module's output (logits).

        Raises:
            RuntimeError: In a batch-statistics mode before :meth:`reference`.
        """
        self._check_entered()
        if not self.needs_reference:
            return self.module(x)
        if self._stats is None:
            raise RuntimeError('ReferenceStatsTeacher: call reference() on the reference '
                               'batch before forwarding other windows')
        saved = [(bn, bn.training, bn.running_mean, bn.running_var) for bn in self._bns]
        try:
            for bn in self._bns:
                mean, var = self._stats[bn]
                bn.training = False
                # plain attributes: a registered buffer is swapped, not written into
                bn._buffers['running_mean'] = mean
                bn._buffers['running_var'] = var
            return self.module(x)
        finally:
            for bn, training, mean, var in saved:
                bn.training = training
                bn._buffers['running_mean'] = mean
                bn._buffers['running_var'] = var
