"""Crops: random (training), centre, and the context region of METHOD.md.

Each crop first pads a volume smaller than the crop symmetrically (image
and label with 0, ``pad`` record), then cuts and appends a ``crop`` record
``{'type': 'crop', 'box': (d0, h0, w0, d1, h1, w1), 'in_shape': (D, H, W)}``
with ``in_shape`` the padded shape.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from fdpl.registry import TRANSFORMS

from . import functional as F
from .spatial import _add_record, _apply_spatial, _as_triple, _spatial_shape

__all__ = ['RandomCrop3D', 'CenterCrop3D', 'ContextCrop3D']

Size3 = Union[int, Sequence[int]]


def _check_size(size: Size3, name: str, minimum: int) -> Tuple[int, int, int]:
    size = _as_triple(size, name)
    if min(size) < minimum:
        raise ValueError(f'{name} must be >= {minimum} on every axis, got {size}')
    return size


def _pad_results(results: Dict,
                 size: Tuple[int, int, int],
                 name: str,
                 mode: str = 'symmetric') -> Tuple[int, int, int]:
    """Pad ``img`` / ``gt_seg_map`` to at least ``size``; return the new shape."""
    shape = _spatial_shape(results, name)
    pad = F.pad_width(shape, size, mode)
    if any(b or a for b, a in pad):
        _apply_spatial(results, lambda a, _: F.pad_to_shape(a, size, 0, mode)[0])
        _add_record(results, {'type': 'pad', 'pad': pad})
        shape = tuple(s + b + a for s, (b, a) in zip(shape, pad))
    return shape


def _cut(results: Dict, origin: Tuple[int, int, int], size: Tuple[int, int, int],
         in_shape: Tuple[int, int, int]) -> None:
    box = tuple(origin) + tuple(o + s for o, s in zip(origin, size))
    _apply_spatial(results, lambda a, _: F.crop(a, box))
    _add_record(results, {'type': 'crop', 'box': box, 'in_shape': in_shape})


@TRANSFORMS.register_module()
class RandomCrop3D(BaseTransform):
    """Random crop of a fixed size (the field's training crop).

    The origin is uniform over all positions that keep the crop inside the
    (padded) volume. With probability ``fg_prob`` the crop is instead
    centred on a random foreground voxel (``label > 0``, clamped to the
    volume) -- only when a label is present and ``results['labeled']``
    (default True) is True; an unlabeled case never uses its label.

    Required keys: ``img``; optional ``gt_seg_map``, ``labeled``. Modified
    keys: ``img``, ``gt_seg_map``, ``transforms``.

    Args:
        crop_size (int | Sequence[int]): ``(d, h, w)``; LA uses
            ``(80, 112, 112)``.
        fg_prob (float): probability of a foreground-centred crop.
            Defaults to 0.0 (the field).
        pad_mode (str): ``'symmetric'`` (pad exactly to the crop size) or
            ``'field'`` (UA-MT's rule: 3 extra voxels per side, see
            :func:`~.functional.pad_width`). Defaults to ``'symmetric'``.
    """

    def __init__(self, crop_size: Size3, fg_prob: float = 0.0, pad_mode: str = 'symmetric') -> None:
        self.crop_size = _check_size(crop_size, 'crop_size', 1)
        if not 0 <= fg_prob <= 1:
            raise ValueError(f'fg_prob must be in [0, 1], got {fg_prob}')
        if pad_mode not in ('symmetric', 'field'):
            raise ValueError(f"pad_mode must be 'symmetric' or 'field', got {pad_mode!r}")
        self.fg_prob = float(fg_prob)
        self.pad_mode = pad_mode

    @cache_randomness
    def _draw_origin(self, shape: Tuple[int, int, int],
                     label: Optional[np.ndarray]) -> Tuple[int, int, int]:
        size = self.crop_size
        if label is not None and self.fg_prob > 0 and np.random.rand() < self.fg_prob:
            fg = np.flatnonzero(label)
            if fg.size:
                centre = np.unravel_index(fg[np.random.randint(fg.size)], label.shape)
                return tuple(
                    int(min(max(c - s // 2, 0), n - s)) for c, s, n in zip(centre, size, shape))
        return tuple(int(np.random.randint(0, n - s + 1)) for n, s in zip(shape, size))

    def transform(self, results: Dict) -> Dict:
        """Pad if needed, then cut a random crop of image and label."""
        shape = _pad_results(results, self.crop_size, type(self).__name__, self.pad_mode)
        label = results.get('gt_seg_map') if bool(results.get('labeled', True)) else None
        origin = self._draw_origin(shape, label)
        _cut(results, origin, self.crop_size, shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'fg_prob={self.fg_prob}, pad_mode={self.pad_mode!r})')


@TRANSFORMS.register_module()
class CenterCrop3D(BaseTransform):
    """Centre crop of a fixed size (pads symmetrically first if needed).

    The origin is ``(S - s) // 2`` on each axis.

    Required keys: ``img``; optional ``gt_seg_map``. Modified keys:
    ``img``, ``gt_seg_map``, ``transforms``.

    Args:
        crop_size (int | Sequence[int]): ``(d, h, w)``.
    """

    def __init__(self, crop_size: Size3) -> None:
        self.crop_size = _check_size(crop_size, 'crop_size', 1)

    def transform(self, results: Dict) -> Dict:
        """Pad if needed, then cut the central crop."""
        shape = _pad_results(results, self.crop_size, type(self).__name__)
        origin = tuple((n - s) // 2 for n, s in zip(shape, self.crop_size))
        _cut(results, origin, self.crop_size, shape)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class ContextCrop3D(BaseTransform):
    """Cut the context region of an unlabeled volume (METHOD.md section 3).

    1. Pad the volume symmetrically to at least ``crop_size`` (recorded).
    2. Draw the fixed crop's origin ``o`` uniformly among the positions that
       keep it inside the padded volume. No label is read.
    3. Cut the region ``[o - max_shift, o + crop_size + max_shift)`` with
       zeros outside the volume.

    A pseudo-label strategy later cuts the fixed window at ``fixed_origin``
    and the shifted windows around it out of this region: clipped to the
    real content (``context_mask == 1``), or, with
    ``model.semi_train_cfg.shift.pad=True``, shifted by the full drawn
    amount into the zero padding, which the mask marks 0.

    In a training config ``max_shift`` is not a setting of its own: it is
    the top of ``model.semi_train_cfg.shift.range`` on each shifted axis
    (0 elsewhere). :func:`fdpl.utils.check_config` (run by
    ``tools/train.py``) writes it from there, and
    :class:`~fdpl.engine.hooks.PseudoLabelHook` refuses to train when the
    two disagree.

    Required keys: ``img``; optional ``gt_seg_map`` (cropped alike, for
    monitoring only). Modified keys: ``img`` ``(C, d + 2 md, h + 2 mh,
    w + 2 mw)``, ``gt_seg_map``, ``transforms`` (a ``crop`` record whose box
    may reach outside ``in_shape``). Added keys:

    - ``context_mask``: uint8 ``(D', H', W')``, 1 where the region holds a
      voxel of the source volume, 0 on padding (both the outside of the
      volume and the symmetric padding of step 1);
    - ``fixed_origin``: ``max_shift``, the fixed crop's corner in the region;
    - ``fixed_size``: ``crop_size``; ``max_shift``: ``(md, mh, mw)``.

    Args:
        crop_size (int | Sequence[int]): fixed crop ``(d, h, w)``.
        max_shift (int | Sequence[int]): largest shift ``(md, mh, mw)`` per
            axis, >= 0 (LA: ``(0, 28, 28)``); derived from the shift range
            in training (see above).
    """

    def __init__(self, crop_size: Size3, max_shift: Size3) -> None:
        self.crop_size = _check_size(crop_size, 'crop_size', 1)
        self.max_shift = _check_size(max_shift, 'max_shift', 0)

    @cache_randomness
    def _draw_origin(self, shape: Tuple[int, int, int]) -> Tuple[int, int, int]:
        return tuple(int(np.random.randint(0, n - s + 1)) for n, s in zip(shape, self.crop_size))

    def transform(self, results: Dict) -> Dict:
        """Pad, place the fixed crop at random and cut its context region."""
        src_shape = _spatial_shape(results, type(self).__name__)
        shape = _pad_results(results, self.crop_size, type(self).__name__)
        real = F.pad_to_shape(np.ones(src_shape, dtype=np.uint8), self.crop_size, 0)[0]

        origin = self._draw_origin(shape)
        ctx_origin = tuple(o - m for o, m in zip(origin, self.max_shift))
        ctx_size = tuple(s + 2 * m for s, m in zip(self.crop_size, self.max_shift))
        _apply_spatial(results, lambda a, _: F.crop_with_padding(a, ctx_origin, ctx_size, 0)[0])
        results['context_mask'] = F.crop_with_padding(real, ctx_origin, ctx_size, 0)[0]
        box = ctx_origin + tuple(o + s for o, s in zip(ctx_origin, ctx_size))
        _add_record(results, {'type': 'crop', 'box': box, 'in_shape': shape})
        results['fixed_origin'] = self.max_shift
        results['fixed_size'] = self.crop_size
        results['max_shift'] = self.max_shift
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'max_shift={self.max_shift})')
