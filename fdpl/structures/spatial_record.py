"""Spatial record of a data sample and its inversion.

Spatial transforms append one record per operation to
``results['transforms']`` (stored as the ``transforms`` metainfo of a
:class:`~fdpl.structures.VolSegDataSample`), oldest first;
:func:`invert_record` walks those records backwards to bring a prediction
back to the source geometry. Record format:

* ``{'type': 'crop', 'box': box, 'in_shape': (D, H, W)}``
* ``{'type': 'pad', 'pad': ((b, a), (b, a), (b, a))}``
* ``{'type': 'flip', 'axis': axis}``
* ``{'type': 'rot90', 'k': k, 'axes': (1, 2)}``
* ``{'type': 'resample', 'in_shape': (D, H, W), 'out_shape': (D, H, W)}``

Boxes are half-open ``(d0, h0, w0, d1, h1, w1)``; origins, sizes and pads
are given in ``(d, h, w)`` order. Axis numbers in records refer to the
``(D, H, W)`` frame: 0 = D, 1 = H, 2 = W.

The module also holds the pure numpy geometry primitives the inversion
needs (:func:`crop`, :func:`crop_with_padding`, :func:`flip`,
:func:`rot90_hw`, :func:`resample`); the transforms of
:mod:`fdpl.datasets.transforms` use the same functions. Every primitive
takes an array whose last three axes are ``(D, H, W)`` (any leading axes,
e.g. channels ``(C, D, H, W)`` or classes ``(K, D, H, W)``, are carried
along) and returns a new array; inputs are never modified.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from scipy import ndimage

__all__ = ['crop', 'crop_with_padding', 'rot90_hw', 'flip', 'resample', 'invert_record']


def _check_volume(arr: np.ndarray, name: str = 'arr') -> None:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f'{name} must be a numpy array, got {type(arr).__name__}')
    if arr.ndim < 3:
        raise ValueError(f'{name} must have at least 3 axes (..., D, H, W), got shape {arr.shape}')


def _triple(value, name: str) -> Tuple[int, int, int]:
    """Return ``value`` as a tuple of three python ints (an int is repeated)."""
    if isinstance(value, (int, np.integer)):
        value = (value, ) * 3
    value = tuple(value)
    if len(value) != 3:
        raise ValueError(f'{name} must have 3 entries (d, h, w), got {value}')
    return tuple(int(v) for v in value)


def crop(arr: np.ndarray, box: Sequence[int]) -> np.ndarray:
    """Cut a box that lies inside the volume.

    Args:
        arr (np.ndarray): ``(..., D, H, W)``.
        box (Sequence[int]): half-open ``(d0, h0, w0, d1, h1, w1)`` with
            ``0 <= d0 < d1 <= D`` etc.

    Returns:
        np.ndarray: ``(..., d1 - d0, h1 - h0, w1 - w0)``, a contiguous copy.

    Raises:
        ValueError: if the box is empty or leaves the volume (use
            :func:`crop_with_padding` for that).
    """
    _check_volume(arr)
    box = tuple(int(b) for b in box)
    if len(box) != 6:
        raise ValueError(f'box must be (d0, h0, w0, d1, h1, w1), got {box}')
    shape = arr.shape[-3:]
    for ax in range(3):
        if not 0 <= box[ax] < box[ax + 3] <= shape[ax]:
            raise ValueError(f'box {box} is empty or outside the volume of shape {shape}')
    sl = tuple(slice(box[ax], box[ax + 3]) for ax in range(3))
    return np.ascontiguousarray(arr[(Ellipsis, ) + sl])


def crop_with_padding(arr: np.ndarray,
                      origin: Sequence[int],
                      size: Sequence[int],
                      value: float = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Cut a window that may extend beyond the volume.

    Voxels of the window outside the volume get ``value``; nothing wraps.

    Args:
        arr (np.ndarray): ``(..., D, H, W)``.
        origin (Sequence[int]): window corner ``(d, h, w)``, may be negative.
        size (Sequence[int]): window size ``(d, h, w)``, each > 0.
        value (float): fill value outside the volume.

    Returns:
        tuple: ``window`` ``(..., d, h, w)`` of ``arr``'s dtype and
        ``valid_mask`` ``(d, h, w)`` uint8, 1 where the window holds a voxel
        of ``arr`` and 0 where it was filled. A window entirely outside the
        volume is all ``value`` with an all-zero mask.
    """
    _check_volume(arr)
    origin = _triple(origin, 'origin')
    size = _triple(size, 'size')
    if min(size) <= 0:
        raise ValueError(f'size must be positive, got {size}')
    shape = arr.shape[-3:]
    window = np.full(arr.shape[:-3] + size, value, dtype=arr.dtype)
    mask = np.zeros(size, dtype=np.uint8)
    src, dst = [], []
    for ax in range(3):
        lo = max(origin[ax], 0)
        hi = min(origin[ax] + size[ax], shape[ax])
        if hi <= lo:
            return window, mask
        src.append(slice(lo, hi))
        dst.append(slice(lo - origin[ax], hi - origin[ax]))
    window[(Ellipsis, ) + tuple(dst)] = arr[(Ellipsis, ) + tuple(src)]
    mask[tuple(dst)] = 1
    return window, mask


def rot90_hw(arr: np.ndarray, k: int) -> np.ndarray:
    """Rotate by ``k`` quarter turns in the ``(H, W)`` plane.

    Same direction as ``np.rot90(arr, k, axes=(-2, -1))``; the record is
    ``{'type': 'rot90', 'k': k, 'axes': (1, 2)}`` and ``-k`` undoes it.

    Args:
        arr (np.ndarray): ``(..., D, H, W)``.
        k (int): number of quarter turns (any integer).

    Returns:
        np.ndarray: ``(..., D, H, W)`` for even ``k``, ``(..., D, W, H)``
        for odd ``k``; contiguous.
    """
    _check_volume(arr)
    return np.ascontiguousarray(np.rot90(arr, int(k), axes=(-2, -1)))


def flip(arr: np.ndarray, axis: int) -> np.ndarray:
    """Mirror along one axis of the ``(D, H, W)`` frame.

    Args:
        arr (np.ndarray): ``(..., D, H, W)``.
        axis (int): 0 (D), 1 (H) or 2 (W).

    Returns:
        np.ndarray: same shape, contiguous.
    """
    _check_volume(arr)
    if axis not in (0, 1, 2):
        raise ValueError(f'flip axis must be 0 (D), 1 (H) or 2 (W), got {axis}')
    return np.ascontiguousarray(np.flip(arr, axis=arr.ndim - 3 + int(axis)))


def resample(arr: np.ndarray, out_shape: Sequence[int], order: int) -> np.ndarray:
    """Resize the last three axes to ``out_shape``.

    Uses ``scipy.ndimage.zoom`` with ``grid_mode=True`` (voxel centres at
    half-voxel offsets, like ``align_corners=False``) and edge replication.
    Leading axes are processed one slice at a time.

    Args:
        arr (np.ndarray): ``(..., D, H, W)``.
        out_shape (Sequence[int]): ``(D', H', W')``.
        order (int): spline order, 1 (linear) for images and
            probabilities, 0 (nearest) for label maps.

    Returns:
        np.ndarray: ``(..., D', H', W')`` with ``arr``'s dtype.
    """
    _check_volume(arr)
    out_shape = _triple(out_shape, 'out_shape')
    if min(out_shape) <= 0:
        raise ValueError(f'out_shape must be positive, got {out_shape}')
    in_shape = arr.shape[-3:]
    if tuple(in_shape) == out_shape:
        return arr.copy()
    if arr.dtype == bool:
        return resample(arr.astype(np.uint8), out_shape, order).astype(bool)
    factors = [o / i for o, i in zip(out_shape, in_shape)]
    flat = arr.reshape((-1, ) + tuple(in_shape))
    out = np.empty((flat.shape[0], ) + out_shape, dtype=arr.dtype)
    for i in range(flat.shape[0]):
        res = ndimage.zoom(
            flat[i], factors, order=order, mode='nearest', grid_mode=True, prefilter=order > 1)
        if res.shape != out_shape:  # guard against rounding in zoom's shape rule
            res, _ = crop_with_padding(res, (0, 0, 0), out_shape)
        out[i] = res
    return out.reshape(arr.shape[:-3] + out_shape)


def _invert_one(arr: np.ndarray, record: Dict, order: Optional[int], fill: float) -> np.ndarray:
    """Undo one spatial record; see :func:`invert_record`."""
    kind = record.get('type')
    if kind == 'crop':
        box = tuple(int(b) for b in record['box'])
        in_shape = _triple(record['in_shape'], 'in_shape')
        size = tuple(box[ax + 3] - box[ax] for ax in range(3))
        if tuple(arr.shape[-3:]) != size:
            raise ValueError(f'crop record {record} expects an array of spatial shape {size}, '
                             f'got {arr.shape[-3:]}')
        # Undoing a cut of ``box`` is a cut of the source frame out of the
        # crop: a window at ``-box[:3]`` of size ``in_shape``. Boxes that
        # reached outside the source (context regions) are handled too.
        out, _ = crop_with_padding(arr, tuple(-b for b in box[:3]), in_shape, value=fill)
        return out
    if kind == 'pad':
        pad = tuple(tuple(int(p) for p in pa) for pa in record['pad'])
        shape = arr.shape[-3:]
        box = tuple(b for b, _ in pad) + tuple(s - a for s, (_, a) in zip(shape, pad))
        return crop(arr, box)
    if kind == 'flip':
        return flip(arr, int(record['axis']))
    if kind == 'rot90':
        axes = tuple(record.get('axes', (1, 2)))
        if axes != (1, 2):
            raise ValueError(f'rot90 records must use axes (1, 2), got {axes}')
        return rot90_hw(arr, -int(record['k']))
    if kind == 'resample':
        if order is None:
            order = 1 if np.issubdtype(arr.dtype, np.floating) else 0
        return resample(arr, record['in_shape'], order)
    raise ValueError(f'unknown transform record type {kind!r} in {record}')


def invert_record(arr: np.ndarray,
                  records: Union[Dict, Sequence[Dict]],
                  order: Optional[int] = None,
                  fill: float = 0) -> np.ndarray:
    """Map a prediction back to the source geometry.

    Walks ``records`` (as stored in ``results['transforms']``, oldest
    first) in reverse order: crop -> paste into ``in_shape`` filled with
    ``fill``; pad -> crop the padding off; flip -> flip; rot90 -> rotate
    back; resample -> resample to ``in_shape`` (nearest for labels, linear
    for scores).

    Args:
        arr (np.ndarray): label map ``(D, H, W)`` (integer) or scores
            ``(K, D, H, W)`` (float) in the geometry after the last record.
        records (dict | Sequence[dict]): one record or the list of records,
            oldest first.
        order (int, optional): interpolation order for ``'resample'``
            records; by default 0 (nearest) for integer/bool arrays and 1
            (linear) for floating arrays.
        fill (float): value written where an inverted crop has no data
            (outside the crop). Default 0: background for labels, zero
            score for probabilities.

    Returns:
        np.ndarray: the prediction in the geometry the first record saw,
        with ``arr``'s dtype and leading axes.

    Raises:
        ValueError: on an unknown record type or a shape that does not fit
            the record.
    """
    _check_volume(arr)
    if isinstance(records, dict):
        records = [records]
    for record in reversed(list(records)):
        arr = _invert_one(arr, record, order, fill)
    return arr
