"""Pure numpy geometry on channel-first volumes.

Every function takes an array whose last three axes are ``(D, H, W)``
(any leading axes, e.g. channels ``(C, D, H, W)`` or classes
``(K, D, H, W)``, are carried along) and returns a new array; inputs are
never modified. Boxes are half-open ``(d0, h0, w0, d1, h1, w1)``; origins,
sizes and pads are given in ``(d, h, w)`` order.

The primitives shared with the inversion of spatial records
(:func:`crop`, :func:`crop_with_padding`, :func:`flip`, :func:`rot90_hw`,
:func:`resample`) live in :mod:`fdpl.structures.spatial_record`, together
with :func:`~fdpl.structures.invert_record` and the documentation of the
record format ``results['transforms']``; they are re-exported here for the
transforms. This module adds the padding helpers.
"""
from typing import Sequence, Tuple

import numpy as np

from fdpl.structures.spatial_record import (_check_volume, _triple, crop, crop_with_padding, flip,
                                            resample, rot90_hw)

Pad3 = Tuple[Tuple[int, int], Tuple[int, int], Tuple[int, int]]

__all__ = ['crop', 'pad_to_shape', 'pad_width', 'crop_with_padding', 'rot90_hw', 'flip', 'resample']


def pad_width(in_shape: Sequence[int], shape: Sequence[int], mode: str = 'symmetric') -> Pad3:
    """Compute the padding that brings ``in_shape`` to at least ``shape``.

    Args:
        in_shape (Sequence[int]): current ``(D, H, W)``.
        shape (Sequence[int]): wanted minimum ``(d, h, w)``.
        mode (str): ``'symmetric'``: an axis short by ``n`` voxels gets
            ``n // 2`` before and ``n - n // 2`` after, so it ends exactly at
            the wanted size. ``'field'``: the rule of the field's LA loaders
            (UA-MT ``RandomCrop``): if any axis is ``<=`` the wanted size,
            every axis gets ``max(n // 2 + 3, 0)`` voxels on both sides.

    Returns:
        tuple: ``((before, after), ) * 3`` in ``(d, h, w)`` order.
    """
    in_shape = _triple(in_shape, 'in_shape')
    shape = _triple(shape, 'shape')
    deficit = [s - i for i, s in zip(in_shape, shape)]
    if mode == 'symmetric':
        return tuple((max(n, 0) // 2, max(n, 0) - max(n, 0) // 2) for n in deficit)
    if mode == 'field':
        if any(i <= s for i, s in zip(in_shape, shape)):
            return tuple((max(n // 2 + 3, 0), ) * 2 for n in deficit)
        return ((0, 0), ) * 3
    raise ValueError(f"pad mode must be 'symmetric' or 'field', got {mode!r}")


def pad_to_shape(arr: np.ndarray,
                 shape: Sequence[int],
                 value: float = 0,
                 mode: str = 'symmetric') -> Tuple[np.ndarray, Pad3]:
    """Pad the last three axes with a constant to at least ``shape``.

    Axes already large enough are left alone (never cropped).

    Args:
        arr (np.ndarray): ``(..., D, H, W)``.
        shape (Sequence[int]): minimum ``(d, h, w)``.
        value (float): fill value.
        mode (str): see :func:`pad_width` (``'symmetric'`` or ``'field'``).

    Returns:
        tuple: the padded array ``(..., D', H', W')`` (same dtype) and the
        padding ``((b, a), (b, a), (b, a))`` that was applied.
    """
    _check_volume(arr)
    pad = pad_width(arr.shape[-3:], shape, mode)
    if not any(b or a for b, a in pad):
        return arr.copy(), pad
    full = ((0, 0), ) * (arr.ndim - 3) + pad
    return np.pad(arr, full, mode='constant', constant_values=value), pad
