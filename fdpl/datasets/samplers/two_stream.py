"""The field's two-stream sampler: every batch mixes labeled and unlabeled cases."""
import itertools
from typing import Iterator, List, Optional, Sized

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from fdpl.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class TwoStreamSampler(Sampler):
    """Infinite sampler yielding blocks of ``Bl`` labeled then ``Bu`` unlabeled indices.

    The dataset is a ``ConcatDataset`` of ``[labeled, unlabeled]``; indices
    ``[0, n_l)`` are labeled and ``[n_l, n_l + n_u)`` unlabeled (read from
    ``dataset.cumulative_sizes``). Each consecutive block of
    ``batch_size = Bl + Bu`` indices is ``Bl`` labeled then ``Bu`` unlabeled,
    so the dataloader's ``batch_size`` MUST equal :attr:`batch_size` (the
    data preprocessor and the model then find the labeled samples first in
    every batch):

    * labeled stream: a fresh permutation per "epoch", consumed ``Bl`` at a
      time; the tail that does not fill ``Bl`` is dropped (as the field
      does). An epoch is :attr:`iters_per_epoch` iterations;
    * unlabeled stream: permutations chained endlessly, consumed ``Bu`` at a
      time across permutation boundaries.

    Distributed training: every rank draws the same permutations (one
    generator per stream, seeded with ``seed`` and ``seed + 1``), cuts each
    permutation to a multiple of ``world_size`` and takes every
    ``world_size``-th element starting at ``rank``. The shards of one
    permutation are disjoint and equally long, so the ranks stay in step.

    Like mmengine's ``InfiniteSampler`` (made for ``IterBasedTrainLoop``),
    the index stream is created once: iterating again continues it, and
    :meth:`set_epoch` does nothing. ``len()`` is the number of indices of
    one labeled epoch on this rank (``iters_per_epoch * batch_size``), so
    ``len(dataloader)`` is the number of iterations of one field epoch,
    which mmengine uses to convert ``by_epoch`` parameter schedulers.

    Args:
        dataset (Sized): ``ConcatDataset([labeled, unlabeled])`` (anything
            with ``cumulative_sizes`` of length 2).
        labeled_per_batch (int): ``Bl``. Defaults to 2.
        unlabeled_per_batch (int): ``Bu``. Defaults to 2.
        shuffle (bool): Shuffle both streams; otherwise both run in order.
            Defaults to True.
        seed (int, optional): Seed of the permutations; None draws one and
            synchronises it over ranks (``mmengine.dist.sync_random_seed``).
        rank (int, optional): Rank; defaults to the current process's.
        world_size (int, optional): World size; defaults to the current one.

    Example:
        >>> train_dataloader = dict(
        ...     batch_size=4,  # = labeled_per_batch + unlabeled_per_batch
        ...     sampler=dict(type='TwoStreamSampler', labeled_per_batch=2,
        ...                  unlabeled_per_batch=2),
        ...     dataset=dict(type='ConcatDataset', datasets=[labeled_cfg, unlabeled_cfg]))
    """

    def __init__(self,
                 dataset: Sized,
                 labeled_per_batch: int = 2,
                 unlabeled_per_batch: int = 2,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        if rank is None or world_size is None:
            dist_rank, dist_world = get_dist_info()
            rank = dist_rank if rank is None else rank
            world_size = dist_world if world_size is None else world_size
        if not 0 <= rank < world_size:
            raise ValueError(f'TwoStreamSampler: rank {rank} not in [0, world_size={world_size}).')
        for name, val in (('labeled_per_batch', labeled_per_batch),
                          ('unlabeled_per_batch', unlabeled_per_batch)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise ValueError(f'TwoStreamSampler: {name} must be an int >= 0, got {val!r}.')
        if labeled_per_batch + unlabeled_per_batch < 1:
            raise ValueError('TwoStreamSampler: labeled_per_batch + unlabeled_per_batch must be '
                             '>= 1.')
        sizes = self._stream_sizes(dataset)
        self.dataset = dataset
        self.num_labeled, self.num_unlabeled = sizes
        self.labeled_per_batch = labeled_per_batch
        self.unlabeled_per_batch = unlabeled_per_batch
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0

        shard_l = self.num_labeled // world_size
        shard_u = self.num_unlabeled // world_size
        if labeled_per_batch > 0 and shard_l < labeled_per_batch:
            raise ValueError(
                f'TwoStreamSampler: the labeled stream has {self.num_labeled} cases; with '
                f'world_size={world_size} each rank gets {shard_l}, fewer than '
                f'labeled_per_batch={labeled_per_batch}. Label more cases, or lower '
                'labeled_per_batch or the number of GPUs.')
        if unlabeled_per_batch > 0 and shard_u < 1:
            raise ValueError(
                f'TwoStreamSampler: the unlabeled stream has {self.num_unlabeled} cases, fewer '
                f'than world_size={world_size}; every rank needs at least one.')
        if labeled_per_batch:
            self.iters_per_epoch = shard_l // labeled_per_batch
        else:  # unlabeled only: an epoch is one pass over this rank's unlabeled shard
            self.iters_per_epoch = max(1, shard_u // unlabeled_per_batch)
        self._indices = self._blocks()

    @staticmethod
    def _stream_sizes(dataset: Sized) -> List[int]:
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
        cum = getattr(dataset, 'cumulative_sizes', None)
        if cum is None or len(cum) != 2:
            raise ValueError(
                'TwoStreamSampler: dataset must be a ConcatDataset of exactly two datasets '
                f'[labeled, unlabeled]; got {type(dataset).__name__}'
                + ('' if cum is None else f' with {len(cum)} parts') + '.')
        return [int(cum[0]), int(cum[1] - cum[0])]

    @property
    def batch_size(self) -> int:
        """``labeled_per_batch + unlabeled_per_batch``: the dataloader's batch size."""
        return self.labeled_per_batch + self.unlabeled_per_batch

    def _stream(self, size: int, offset: int, seed: int) -> Iterator[int]:
        """This rank's share of endlessly chained permutations of ``range(size)``."""
        g = torch.Generator()
        g.manual_seed(seed)
        usable = size - size % self.world_size
        while True:
            perm = torch.randperm(size, generator=g) if self.shuffle else torch.arange(size)
            yield from (perm[:usable][self.rank::self.world_size] + offset).tolist()

    def _labeled_epochs(self) -> Iterator[List[int]]:
        """Labeled groups of ``Bl``; a group never spans two epochs."""
        g = torch.Generator()
        g.manual_seed(self.seed)
        n, bl = self.num_labeled, self.labeled_per_batch
        usable = n - n % self.world_size
        while True:
            perm = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
            shard = perm[:usable][self.rank::self.world_size].tolist()
            for i in range(self.iters_per_epoch):
                yield shard[i * bl:(i + 1) * bl]

    def _blocks(self) -> Iterator[int]:
        unlabeled = self._stream(self.num_unlabeled, self.num_labeled, self.seed + 1)
        if self.labeled_per_batch == 0:
            yield from unlabeled
            return
        for group in self._labeled_epochs():
            yield from group
            yield from itertools.islice(unlabeled, self.unlabeled_per_batch)

    def __iter__(self) -> Iterator[int]:
        """Return the (infinite) index stream; a new iterator continues it.

        The shared generator itself is returned (not wrapped with ``yield
        from``), so discarding one dataloader iterator does not close it.
        """
        return self._indices

    def __len__(self) -> int:
        """Indices of one labeled epoch on this rank: ``iters_per_epoch * batch_size``."""
        return self.iters_per_epoch * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Record ``epoch``; the stream is infinite, so nothing else changes."""
        self.epoch = epoch
