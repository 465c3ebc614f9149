"""Run the deterministic head of a pipeline once per case and keep it in memory."""
import copy
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from fdpl.registry import TRANSFORMS

__all__ = ['CachedCompose']


def _nbytes(value) -> int:
    """Bytes held by the arrays and tensors inside a results value."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    return 0


@TRANSFORMS.register_module()
class CachedCompose(BaseTransform):
    """Compose deterministic transforms and cache their result per case.

    Loading a volume (a gzip-compressed HDF5 or NIfTI file) and resampling
    it cost more than the rest of a training pipeline, and give the same
    result every time a case is drawn. Wrap those leading, deterministic
    transforms in this one: the first time a case comes by they run and
    what they add or change in ``results`` is kept; afterwards a copy of it
    is returned without reading the file. The random transforms (flips,
    crops, intensity) stay outside, after it, and run every time.

    Example (``configs/_base_/datasets/la_half.py``)::

        train_pipeline = [
            dict(type='CachedCompose', transforms=[
                dict(type='LoadH5Volume', num_classes=2),
                dict(type='Resample3D', scale=0.5)]),
            dict(type='RandomRotFlip3D'),
            dict(type='RandomCrop3D', crop_size=patch_size),
            dict(type='PackVolSegInputs')]

    The cache lives in the process that runs the pipeline: each dataloader
    worker holds its own (``persistent_workers=True`` keeps it across
    epochs; an iteration-based loop keeps its workers for the whole run).
    When the cached cases would exceed ``max_mib`` the least recently used
    ones are dropped, so a dataset larger than the bound is still correct,
    only partly cached. A result is a deep copy: the transforms after this
    one may change arrays in place.

    Args:
        transforms (list[dict | callable]): The deterministic transforms,
            applied in order. A transform with random parameters (an mmcv
            ``cache_randomness`` method, as every ``Random*`` transform
            here has) is refused: its first draw would be frozen.
        max_mib (float): Memory bound of the cache, in MiB of array data,
            per process. Defaults to 2048. 0 disables caching.
        keys (sequence[str]): The ``results`` keys that identify a case.
            Defaults to ``('img_path', 'seg_map_path')``.
    """

    def __init__(self, transforms: Sequence[Union[dict, Callable]], max_mib: float = 2048.0,
                 keys: Sequence[str] = ('img_path', 'seg_map_path')) -> None:
        if max_mib < 0:
            raise ValueError(f'CachedCompose: max_mib must be >= 0, got {max_mib}')
        self.transforms: List[Callable] = []
        for t in transforms:
            t = TRANSFORMS.build(t) if isinstance(t, dict) else t
            if not callable(t):
                raise TypeError(f'CachedCompose: {t!r} is not callable')
            if getattr(t, '_methods_with_randomness', None):
                raise ValueError(
                    f'CachedCompose: {type(t).__name__} draws random parameters; caching '
                    'its output would freeze them. Put it after CachedCompose.')
            self.transforms.append(t)
        if not self.transforms:
            raise ValueError('CachedCompose needs at least one transform')
        self.max_bytes = int(max_mib * 2**20)
        self.keys = tuple(keys)
        self._cache: 'OrderedDict[Tuple, Tuple[Dict, int]]' = OrderedDict()
        self._bytes = 0
        #: Cache hits and misses of this process, for monitoring.
        self.hits = 0
        self.misses = 0

    def _key(self, results: Dict) -> Tuple:
        missing = [k for k in self.keys if k not in results]
        if len(missing) == len(self.keys):
            raise KeyError(f'CachedCompose: results hold none of the case keys {self.keys}')
        return tuple(str(results.get(k)) for k in self.keys)

    def _run(self, results: Dict) -> Optional[Dict]:
        for t in self.transforms:
            results = t(results)
            if results is None:
                return None
        return results

    def transform(self, results: Dict) -> Optional[Dict]:
        """Apply the transforms to ``results``, or reuse their cached output.

        Args:
            results (dict): The data info of one case.

        Returns:
            dict: ``results`` updated with what the transforms produce (or
            None when one of them returns None; that is not cached).
        """
        if self.max_bytes == 0:
            return self._run(results)
        key = self._key(results)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            results.update(copy.deepcopy(hit[0]))
            return results
        self.misses += 1
        before = dict(results)
        out = self._run(results)
        if out is None:
            return None
        # what the transforms added or replaced (kept by reference, copied on use)
        produced = {k: v for k, v in out.items() if k not in before or v is not before[k]}
        size = _nbytes(produced)
        if size <= self.max_bytes:
            while self._cache and self._bytes + size > self.max_bytes:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._bytes -= dropped
            self._cache[key] = (copy.deepcopy(produced), size)
            self._bytes += size
        return out

    def __repr__(self) -> str:
        inner = ', '.join(repr(t) for t in self.transforms)
        return (f'{self.__class__.__name__}(transforms=[{inner}], '
                f'max_mib={self.max_bytes / 2**20:g}, keys={self.keys})')
