"""Saves the global random generators with each checkpoint, restores them on resume."""
import logging
import random
from typing import Any, Iterator, Optional

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log

from fdpl.registry import HOOKS

#: Checkpoint key of the stored generator states.
CHECKPOINT_KEY = 'rng_state'


def _get_rng_state() -> dict:
    """States of python ``random``, numpy's global and torch's generators, as plain values.

    Returns:
        dict: ``python``: ``[version, list of 625 int, gauss_next]``;
        ``numpy``: ``[name, list of 624 int, pos, has_gauss, cached_gaussian]``;
        ``torch``: uint8 tensor; ``cuda`` (when CUDA is available): uint8
        tensor of the current device.
    """
    version, internal, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=[int(version), [int(k) for k in internal], gauss_next],
        numpy=[str(name), keys.tolist(), int(pos), int(has_gauss), float(cached)],
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    """Inverse of :func:`_get_rng_state`."""
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())


class _RestoreAfterReplay:
    """Iterator that sets the generators just before batch ``replayed + 1`` is fetched.

    It stands in for ``IterBasedTrainLoop.dataloader_iterator`` and puts the
    loop's own iterator back the moment it has restored the state.
    """

    def __init__(self, loop: Any, iterator: Iterator, replayed: int, state: dict) -> None:
        self._loop = loop
        self._iterator = iterator
        self._replayed = replayed
        self._state = state
        self._fetched = 0

    def __iter__(self) -> '_RestoreAfterReplay':
        return self

    def __next__(self) -> Any:
        if self._fetched >= self._replayed:
            self._loop.dataloader_iterator = self._iterator
            _set_rng_state(self._state)
        self._fetched += 1
        return next(self._iterator)

    def __getattr__(self, name: str) -> Any:
        if name.startswith('__') or name == '_iterator':
            raise AttributeError(name)
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Continue the random streams of an interrupted run on resume.

    ``before_save_checkpoint`` writes the states of python ``random``,
    numpy's global generator, torch's CPU generator and, when available, the
    current CUDA device's generator under ``checkpoint['rng_state']`` as
    lists, numbers and uint8 tensors (loadable with ``weights_only=True``).
    On resume they are set again, so dropout, random transforms and noise
    continue the sequence of the run that wrote the checkpoint: training
    ``N`` iterations and resuming to ``2N`` gives the weights of ``2N``
    iterations in one go (with deterministic kernels).

    When the state is set matters. ``after_load_checkpoint`` runs inside
    ``Runner.resume``, before ``IterBasedTrainLoop.run`` replays the
    ``iter`` finished batches to move the data sampler on (mmengine 0.10.7,
    ``runner/loops.py``). With ``num_workers=0`` the replay runs the
    transforms in this process and would consume the restored streams;
    ``before_train_iter`` is too late, because the loop fetches the batch
    before calling it. So the state is only kept in ``after_load_checkpoint``
    and set between the replay and the first new batch: ``before_train``
    wraps the loop's ``dataloader_iterator`` in an iterator that restores the
    generators just before fetch ``iter + 1`` and then removes itself. With
    workers the replay happens in the worker processes (seeded per worker by
    mmengine), so the result is the same. Loops without a
    ``dataloader_iterator`` (epoch-based) replay nothing and are restored in
    ``before_train``. A checkpoint read through ``load_from`` without
    ``resume`` (iteration 0) leaves the generators as seeded.

    With ``isolate_val=True`` (default) the generators are saved in
    ``before_val`` and set back in ``after_val``, so validation (its data
    loader and transforms) never shifts the training streams. Without this, a
    validation run right after a checkpoint (same interval) would consume
    random numbers that the resumed run does not, and the runs would part.
    A checkpoint written during validation (best checkpoint) stores the
    state from before validation.

    Only rank 0 writes checkpoints. With ``randomness.diff_rank_seed=True``
    the other ranks had their own streams; they keep the streams seeded at
    start-up and a warning says so.

    Args:
        isolate_val (bool): Keep validation from consuming the training
            random streams. Defaults to True.

    Example:
        >>> custom_hooks = [dict(type='RNGStateHook')]
    """

    priority = 'NORMAL'

    def __init__(self, isolate_val: bool = True) -> None:
        if not isinstance(isolate_val, bool):
            raise ValueError(f'RNGStateHook: isolate_val must be a bool, got {isolate_val!r}')
        self.isolate_val = isolate_val
        self._loaded = False
        self._resumed_state: Optional[dict] = None
        self._val_state: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the generator states in ``checkpoint['rng_state']``.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint about to be written.
        """
        checkpoint[CHECKPOINT_KEY] = (
            self._val_state if self._val_state is not None else _get_rng_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the stored states until training starts.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        self._loaded = True
        self._resumed_state = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        """Arrange for the stored states to be set before the first new batch.

        Args:
            runner (Runner): The runner.
        """
        loaded, state = self._loaded, self._resumed_state
        self._loaded, self._resumed_state = False, None
        if not loaded or runner.iter == 0:
            return
        if state is None:
            print_log(
                f'RNGStateHook: the resumed checkpoint has no {CHECKPOINT_KEY!r}; random '
                'streams continue from the seed, not from the interrupted run.',
                logger='current', level=logging.WARNING)
            return
        rank, world_size = get_dist_info()
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if world_size > 1 and randomness.get('diff_rank_seed', False) and rank != 0:
            print_log(
                f'RNGStateHook: rank {rank} keeps its seeded streams (the checkpoint holds '
                'rank 0\'s, and diff_rank_seed=True).', logger='current', level=logging.WARNING)
            return
        loop = runner.train_loop
        iterator = getattr(loop, 'dataloader_iterator', None)
        if iterator is None:
            _set_rng_state(state)
        else:
            loop.dataloader_iterator = _RestoreAfterReplay(loop, iterator, loop.iter, state)

    def before_val(self, runner) -> None:
        """Save the generator states before validation.

        Args:
            runner (Runner): The runner.
        """
        if self.isolate_val:
            self._val_state = _get_rng_state()

    def after_val(self, runner) -> None:
        """Set the generators back to their state before validation.

        Args:
            runner (Runner): The runner.
        """
        if self._val_state is not None:
            _set_rng_state(self._val_state)
            self._val_state = None
