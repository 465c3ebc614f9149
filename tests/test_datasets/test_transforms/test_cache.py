"""Tests of CachedCompose: the cached head of a pipeline gives what running it gives."""
import h5py
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from fdpl.datasets.transforms import (CachedCompose, LoadH5Volume, RandomCrop3D,
                                      RandomRotFlip3D, Resample3D)


@pytest.fixture(autouse=True)
def fdpl_scope():
    with DefaultScope.overwrite_default_scope('fdpl'):
        yield


def _case(tmp_path, name: str, seed: int, shape=(12, 10, 8)) -> str:
    rng = np.random.RandomState(seed)
    path = tmp_path / f'{name}.h5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=rng.rand(*shape).astype(np.float32), compression='gzip')
        f.create_dataset('label', data=(rng.rand(*shape) > 0.5).astype(np.uint8))
    return str(path)


def _head():
    return [dict(type='LoadH5Volume', num_classes=2), dict(type='Resample3D', scale=0.5)]


def _same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k] if not isinstance(a[k], list) else repr(a[k]) == repr(b[k]), k


def test_cached_output_equals_the_transforms(tmp_path):
    path = _case(tmp_path, 'a', 0)
    cached = CachedCompose(_head())
    plain = Resample3D(scale=0.5)(LoadH5Volume(num_classes=2)(dict(img_path=path, case_id='a')))
    first = cached(dict(img_path=path, case_id='a'))
    second = cached(dict(img_path=path, case_id='a'))
    _same(first, plain)
    _same(second, plain)
    assert (cached.misses, cached.hits) == (1, 1)
    # a hit is a copy: a later transform writing into it leaves the cache intact
    second['img'][...] = -1
    second['transforms'].append('x')
    _same(cached(dict(img_path=path, case_id='a')), plain)


def test_random_transforms_after_the_cache_keep_their_stream(tmp_path):
    """With the same seed, a pipeline with the cached head yields the same crops."""
    paths = [_case(tmp_path, n, i) for i, n in enumerate('abc')]
    tail = [RandomRotFlip3D(), RandomCrop3D(crop_size=(4, 4, 4))]

    def run(head):
        np.random.seed(0)
        out = []
        for p in paths * 3:
            r = dict(img_path=p)
            for t in head:
                r = t(r)
            for t in tail:
                r = t(r)
            out.append(r['img'].copy())
        return out

    plain = run([LoadH5Volume(num_classes=2), Resample3D(scale=0.5)])
    cached = run([CachedCompose(_head())])
    assert all(np.array_equal(a, b) for a, b in zip(plain, cached))


def test_memory_bound_drops_least_recently_used(tmp_path):
    paths = [_case(tmp_path, n, i, shape=(16, 16, 16)) for i, n in enumerate('abc')]
    one = CachedCompose([dict(type='LoadH5Volume')], max_mib=1)
    one(dict(img_path=paths[0]))
    size = one._bytes  # image, uint8 label and the affine
    assert size > 16**3 * 5
    cache = CachedCompose([dict(type='LoadH5Volume')], max_mib=2.5 * size / 2**20)
    for p in (paths[0], paths[1], paths[0], paths[2]):  # 'b' is the least recently used
        cache(dict(img_path=p))
    assert [k[0] for k in cache._cache] == [paths[0], paths[2]]
    assert cache._bytes == 2 * size
    off = CachedCompose([dict(type='LoadH5Volume')], max_mib=0)
    off(dict(img_path=paths[0]))
    off(dict(img_path=paths[0]))
    assert not off._cache and off.hits == 0


def test_refuses_random_transforms_and_bad_options():
    with pytest.raises(ValueError, match='RandomRotFlip3D'):
        CachedCompose([dict(type='LoadH5Volume'), dict(type='RandomRotFlip3D')])
    with pytest.raises(ValueError, match='max_mib'):
        CachedCompose(_head(), max_mib=-1)
    with pytest.raises(ValueError, match='at least one'):
        CachedCompose([])
    with pytest.raises(KeyError, match='case keys'):
        CachedCompose(_head())(dict(case_id='a'))
