"""Spatial transforms that act on the whole volume.

They move ``results['img']`` ``(C, D, H, W)`` and ``results['gt_seg_map']``
``(D, H, W)`` together and append one record per operation to
``results['transforms']`` (see :mod:`fdpl.structures.spatial_record`) so
that a prediction can be mapped back with
:func:`fdpl.structures.invert_record`. Run them before a
crop: a context region's ``fixed_origin`` is not updated by them.
"""
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from fdpl.registry import TRANSFORMS

from . import functional as F

__all__ = ['RandomRotFlip3D', 'RandomFlip3D', 'Pad3D', 'Resample3D']

#: Keys moved by spatial transforms (``img`` has a leading channel axis).
_SPATIAL_KEYS = ('img', 'gt_seg_map')


def _spatial_shape(results: Dict, name: str) -> Tuple[int, int, int]:
    """Return ``(D, H, W)`` of ``results['img']`` after checking it."""
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.ndim != 4:
        raise ValueError(f'{name} expects results["img"] as a (C, D, H, W) array, '
                         f'got {getattr(img, "shape", None)}')
    seg = results.get('gt_seg_map')
    if seg is not None and tuple(seg.shape) != img.shape[1:]:
        raise ValueError(f'{name}: gt_seg_map shape {tuple(seg.shape)} differs from the image '
                         f'(D, H, W) {img.shape[1:]}')
    return tuple(int(s) for s in img.shape[1:])


def _apply_spatial(results: Dict,
                   fn: Callable[[np.ndarray, str], np.ndarray],
                   keys: Sequence[str] = _SPATIAL_KEYS) -> None:
    """Replace each present ``results[key]`` by ``fn(results[key], key)``."""
    for key in keys:
        if results.get(key) is not None:
            results[key] = fn(results[key], key)


def _add_record(results: Dict, record: Dict) -> None:
    """Append a geometry record to ``results['transforms']``."""
    results.setdefault('transforms', []).append(record)


def _as_triple(value, name: str, cast=int) -> Tuple:
    if isinstance(value, (int, float, np.integer, np.floating)):
        value = (value, ) * 3
    value = tuple(cast(v) for v in value)
    if len(value) != 3:
        raise ValueError(f'{name} must be a number or 3 values (d, h, w), got {value}')
    return value


@TRANSFORMS.register_module()
class RandomRotFlip3D(BaseTransform):
    """The field's LA / BraTS augmentation: in-plane rot90, then a flip.

    Rotates by ``k`` quarter turns, ``k ~ U{0, 1, 2, 3}``, in the ``(H, W)``
    plane, then mirrors along H or W (each with probability 1/2). Both
    operations are always recorded (``k = 0`` included).

    Required keys: ``img``; optional ``gt_seg_map``. Modified keys: both,
    ``transforms``.
    """

    @cache_randomness
    def _draw(self) -> Tuple[int, int]:
        k = int(np.random.randint(0, 4))
        axis = int(np.random.randint(1, 3))
        return k, axis

    def transform(self, results: Dict) -> Dict:
        """Rotate and flip image and label together."""
        _spatial_shape(results, type(self).__name__)
        k, axis = self._draw()
        _apply_spatial(results, lambda a, _: F.flip(F.rot90_hw(a, k), axis))
        _add_record(results, {'type': 'rot90', 'k': k, 'axes': (1, 2)})
        _add_record(results, {'type': 'flip', 'axis': axis})
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


@TRANSFORMS.register_module()
class RandomFlip3D(BaseTransform):
    """Mirror along each of ``axes`` independently with probability ``prob``.

    Required keys: ``img``; optional ``gt_seg_map``. Modified keys: both,
    ``transforms`` (one ``flip`` record per applied flip).

    Args:
        prob (float): flip probability per axis. Defaults to 0.5.
        axes (Sequence[int]): axes of the ``(D, H, W)`` frame. Defaults to
            ``(1, 2)`` (H and W).
    """

    def __init__(self, prob: float = 0.5, axes: Sequence[int] = (1, 2)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        axes = tuple(int(a) for a in axes)
        if not axes or any(a not in (0, 1, 2) for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f'axes must be distinct values of 0 (D), 1 (H), 2 (W), got {axes}')
        self.prob = float(prob)
        self.axes = axes

    @cache_randomness
    def _draw(self) -> Tuple[int, ...]:
        draws = np.random.rand(len(self.axes))
        return tuple(a for a, r in zip(self.axes, draws) if r < self.prob)

    def transform(self, results: Dict) -> Dict:
        """Flip image and label together."""
        _spatial_shape(results, type(self).__name__)
        for axis in self._draw():
            _apply_spatial(results, lambda a, _, ax=axis: F.flip(a, ax))
            _add_record(results, {'type': 'flip', 'axis': axis})
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, axes={self.axes})'


@TRANSFORMS.register_module()
class Pad3D(BaseTransform):
    """Pad symmetrically to a minimum size and/or a multiple of a divisor.

    An axis short by ``n`` voxels gets ``n // 2`` before and the rest after.
    The image is filled with ``value``, the label with 0. A ``pad`` record is
    appended when anything was padded.

    Required keys: ``img``; optional ``gt_seg_map``. Modified keys: both,
    ``transforms``.

    Args:
        size (int | Sequence[int], optional): minimum ``(d, h, w)``.
        size_divisor (int | Sequence[int], optional): pad each axis up to a
            multiple of this (after ``size``).
        value (float): image fill value. Defaults to 0.
    """

    def __init__(self,
                 size: Optional[Union[int, Sequence[int]]] = None,
                 size_divisor: Optional[Union[int, Sequence[int]]] = None,
                 value: float = 0) -> None:
        if size is None and size_divisor is None:
            raise ValueError('Pad3D needs size and/or size_divisor')
        self.size = None if size is None else _as_triple(size, 'size')
        self.size_divisor = (None if size_divisor is None else _as_triple(
            size_divisor, 'size_divisor'))
        if self.size is not None and min(self.size) < 1:
            raise ValueError(f'size must be positive, got {self.size}')
        if self.size_divisor is not None and min(self.size_divisor) < 1:
            raise ValueError(f'size_divisor must be positive, got {self.size_divisor}')
        self.value = value

    def transform(self, results: Dict) -> Dict:
        """Pad image and label."""
        shape = _spatial_shape(results, type(self).__name__)
        target = shape if self.size is None else tuple(max(s, t) for s, t in zip(shape, self.size))
        if self.size_divisor is not None:
            target = tuple(-(-t // m) * m for t, m in zip(target, self.size_divisor))
        pad = F.pad_width(shape, target)

        def pad_fn(a: np.ndarray, key: str) -> np.ndarray:
            return F.pad_to_shape(a, target, self.value if key == 'img' else 0)[0]

        if any(b or a for b, a in pad):
            _apply_spatial(results, pad_fn)
            _add_record(results, {'type': 'pad', 'pad': pad})
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'size_divisor={self.size_divisor}, value={self.value})')


@TRANSFORMS.register_module()
class Resample3D(BaseTransform):
    """Resize by a scale factor or to a target voxel spacing.

    The output shape is ``round(shape * scale)`` with
    ``scale = spacing / target_spacing`` in the second case. Images are
    interpolated linearly, labels by nearest neighbour. ``spacing`` is
    updated to the new voxel size and a ``resample`` record appended
    (always, even when only some keys are resampled: the record describes
    the image geometry).

    Required keys: ``img``; ``spacing`` for ``target_spacing``. Modified
    keys: those in ``keys``, ``spacing``, ``transforms``.

    Args:
        scale (float | Sequence[float], optional): zoom factor per axis
            ``(d, h, w)``; > 1 enlarges.
        target_spacing (float | Sequence[float], optional): wanted voxel
            size ``(d, h, w)``. Exactly one of the two must be given.
        keys (Sequence[str]): what to resample. Defaults to
            ``('img', 'gt_seg_map')``; a test pipeline passes ``('img', )``
            to keep the ground truth at source resolution for the metrics.
    """

    def __init__(
        self,
        scale: Optional[Union[float, Sequence[float]]] = None,
        target_spacing: Optional[Union[float, Sequence[float]]] = None,
        keys: Sequence[str] = ('img', 'gt_seg_map')
    ) -> None:
        if (scale is None) == (target_spacing is None):
            raise ValueError('Resample3D needs exactly one of scale and target_spacing')
        self.scale = None if scale is None else _as_triple(scale, 'scale', float)
        self.target_spacing = (None if target_spacing is None else _as_triple(
            target_spacing, 'target_spacing', float))
        for name, val in (('scale', self.scale), ('target_spacing', self.target_spacing)):
            if val is not None and min(val) <= 0:
                raise ValueError(f'{name} must be positive, got {val}')
        keys = tuple(keys)
        unknown = set(keys) - set(_SPATIAL_KEYS)
        if 'img' not in keys or unknown:
            raise ValueError(f"keys must include 'img' and be among {_SPATIAL_KEYS}, got {keys}")
        self.keys = keys

    def transform(self, results: Dict) -> Dict:
        """Resample the selected keys."""
        shape = _spatial_shape(results, type(self).__name__)
        spacing = tuple(float(s) for s in results.get('spacing', (1.0, 1.0, 1.0)))
        if self.scale is not None:
            scale = self.scale
        else:
            if 'spacing' not in results:
                raise KeyError('Resample3D(target_spacing=...) needs results["spacing"]')
            scale = tuple(s / t for s, t in zip(spacing, self.target_spacing))
        out_shape = tuple(max(int(round(s * f)), 1) for s, f in zip(shape, scale))

        def zoom_fn(a: np.ndarray, key: str) -> np.ndarray:
            return F.resample(a, out_shape, 1 if key == 'img' else 0)

        if out_shape != shape:
            _apply_spatial(results, zoom_fn, self.keys)
        results['spacing'] = tuple(sp * s / o for sp, s, o in zip(spacing, shape, out_shape))
        _add_record(results, {'type': 'resample', 'in_shape': shape, 'out_shape': out_shape})
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, '
                f'target_spacing={self.target_spacing}, keys={self.keys})')
