"""Tests of TwoStreamSampler: block structure, epochs, determinism, DDP shards."""
import itertools

import pytest
from mmengine.dataset import BaseDataset, ConcatDataset
from torch.utils.data import DataLoader

from fdpl.datasets import TwoStreamSampler
from fdpl.registry import DATA_SAMPLERS


class _Toy(BaseDataset):

    def __init__(self, n: int, labeled: bool):
        self.n, self.labeled = n, labeled
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(idx=i, labeled=self.labeled) for i in range(self.n)]


def _concat(n_l: int, n_u: int) -> ConcatDataset:
    return ConcatDataset([_Toy(n_l, True), _Toy(n_u, False)])


def _take(sampler, n_blocks):
    return list(itertools.islice(iter(sampler), n_blocks * sampler.batch_size))


def test_block_structure_and_labeled_epochs():
    ds = _concat(5, 7)
    s = TwoStreamSampler(ds, labeled_per_batch=2, unlabeled_per_batch=3, seed=0)
    assert s.batch_size == 5 and s.iters_per_epoch == 2 and len(s) == 10
    idx = _take(s, 12)
    blocks = [idx[i:i + 5] for i in range(0, len(idx), 5)]
    for b in blocks:
        assert all(i < 5 for i in b[:2]) and all(5 <= i < 12 for i in b[2:])
    # one labeled epoch = 2 blocks = 4 distinct cases of one permutation (tail of 1 dropped)
    for e in range(6):
        lab = blocks[2 * e][:2] + blocks[2 * e + 1][:2]
        assert len(set(lab)) == 4
    # unlabeled: each consecutive run of 7 draws is one permutation
    unl = [i for b in blocks for i in b[2:]]
    for k in range(0, 35, 7):
        assert sorted(unl[k:k + 7]) == list(range(5, 12))
    # labeled epochs are reshuffled
    epochs = {tuple(blocks[2 * e][:2] + blocks[2 * e + 1][:2]) for e in range(6)}
    assert len(epochs) > 1


def test_determinism_and_continuation():
    ds = _concat(6, 10)
    a = _take(TwoStreamSampler(ds, seed=7), 20)
    b = _take(TwoStreamSampler(ds, seed=7), 20)
    c = _take(TwoStreamSampler(ds, seed=8), 20)
    assert a == b and a != c
    # like mmengine's InfiniteSampler, a new iterator continues the stream
    s = TwoStreamSampler(ds, seed=7)
    first = list(itertools.islice(iter(s), 40))
    second = list(itertools.islice(iter(s), 40))
    assert first + second == _take(TwoStreamSampler(ds, seed=7), 20)
    # also through a discarded DataLoader iterator
    loader = DataLoader(_concat(6, 10), batch_size=4, sampler=s, collate_fn=lambda x: x)
    next(iter(loader))
    assert len(next(iter(loader))) == 4
    s.set_epoch(3)
    assert s.epoch == 3


def test_no_shuffle_order():
    s = TwoStreamSampler(_concat(4, 3), shuffle=False, seed=0)
    assert _take(s, 3) == [0, 1, 4, 5, 2, 3, 6, 4, 0, 1, 5, 6]


def test_ddp_shards_disjoint():
    ds = _concat(9, 11)
    r0 = TwoStreamSampler(ds, seed=1, rank=0, world_size=2)
    r1 = TwoStreamSampler(ds, seed=1, rank=1, world_size=2)
    # labeled: 9 -> 8 usable, 4 per rank, 2 iterations per epoch
    assert r0.iters_per_epoch == r1.iters_per_epoch == 2
    a, b = _take(r0, 2), _take(r1, 2)
    la, lb = a[0:2] + a[4:6], b[0:2] + b[4:6]
    assert not set(la) & set(lb) and len(set(la) | set(lb)) == 8
    ua, ub = a[2:4] + a[6:8], b[2:4] + b[6:8]
    assert not set(ua) & set(ub)
    # over a full unlabeled permutation (11 -> 10 usable, 5 per rank) streams stay disjoint
    r0 = TwoStreamSampler(ds, seed=1, rank=0, world_size=2)
    r1 = TwoStreamSampler(ds, seed=1, rank=1, world_size=2)
    a, b = _take(r0, 10), _take(r1, 10)
    unl_a = [i for k in range(10) for i in a[4 * k + 2:4 * k + 4]]
    unl_b = [i for k in range(10) for i in b[4 * k + 2:4 * k + 4]]
    for k in range(0, 20, 5):
        assert not set(unl_a[k:k + 5]) & set(unl_b[k:k + 5])


def test_errors():
    with pytest.raises(ValueError, match='labeled stream has 3 cases.*world_size=2'):
        TwoStreamSampler(_concat(3, 8), seed=0, rank=0, world_size=2)
    with pytest.raises(ValueError, match='unlabeled stream has 1 cases.*world_size=2'):
        TwoStreamSampler(_concat(8, 1), seed=0, rank=1, world_size=2)
    with pytest.raises(ValueError, match='ConcatDataset of exactly two'):
        TwoStreamSampler(_Toy(4, True), seed=0)
    with pytest.raises(ValueError, match='labeled_per_batch'):
        TwoStreamSampler(_concat(4, 4), labeled_per_batch=-1, seed=0)
    with pytest.raises(ValueError, match='rank'):
        TwoStreamSampler(_concat(4, 4), seed=0, rank=2, world_size=2)


def test_registry_and_dataloader():
    ds = _concat(4, 6)
    s = DATA_SAMPLERS.build(dict(type='TwoStreamSampler', labeled_per_batch=2,
                                 unlabeled_per_batch=2), default_args=dict(dataset=ds, seed=None))
    assert isinstance(s.seed, int)
    loader = DataLoader(ds, batch_size=s.batch_size, sampler=s, collate_fn=lambda x: x)
    assert len(loader) == s.iters_per_epoch == 2
    it = iter(loader)
    for _ in range(5):
        batch = next(it)
        assert [d['labeled'] for d in batch] == [True, True, False, False]
