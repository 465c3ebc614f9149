"""Pure geometry of fixed and dynamic pseudo-labels.

Every function takes tensors and returns new tensors; nothing keeps state and
randomness comes in as a :class:`torch.Generator` (``None`` uses torch's
global generator). All tensors are batch-first and spatial axes, coordinates,
shifts and sizes are ordered ``(d, h, w)``. Boxes are half-open
``(d0, h0, w0, d1, h1, w1)``.

Frame convention. The fixed crop of size ``(d, h, w)`` starts at
``fixed_origin`` inside a context region; shifted crop ``k`` starts at
``fixed_origin + shift_k``. A voxel ``u`` of crop ``k`` therefore sits at
``v = u + shift_k`` in the frame of the fixed crop, and mapping crop ``k``
into that frame reads ``aligned_k[v] = crop_k[v - shift_k]`` where
``0 <= v - shift_k < size``. Voxels with no source are filled with zeros,
never wrapped, and flagged invalid.

The pieces of one iteration are::

    shifts = sample_shifts(B, max_shift, magnitude=..., room=room, generator=g)
    crops = crop_windows(context, fixed_origin + shifts, size)     # (B, K, C, d, h, w)
    aligned, valid = shift_into_frame(teacher_probs(crops), shifts)
    region = overlap_region(valid, 'intersection')
    temporary, _ = fuse_temporary(aligned, valid, region=region)
    dynamic = com_merge(fixed, temporary, region)
    partners = pair_partners(B, generator=g)
    masks = pair_masks([cutmix_box(size, generator=g) for _ in range(B)], partners, size)
    x_cut = cut_mix(x, masks, partners)
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from scipy.special import betaincinv
from torch import Tensor

Box = Tuple[int, int, int, int, int, int]

# Direction signs per (d, h, w) axis. 'diagonal' and 'axis' act in-plane only.
_DIRECTIONS = {
    'diagonal': ((0, 1, 1), (0, 1, -1), (0, -1, 1), (0, -1, -1)),
    'axis': ((0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)),
    'diagonal3d': ((1, 1, 1), (1, 1, -1), (1, -1, 1), (1, -1, -1), (-1, 1, 1), (-1, 1, -1),
                   (-1, -1, 1), (-1, -1, -1)),
}


def _as_triple(value: Sequence[int], name: str) -> Tuple[int, int, int]:
    """Check that ``value`` holds three non-negative ints and return them."""
    try:
        triple = tuple(int(v) for v in value)
    except TypeError:
        raise ValueError(f'{name} must be a sequence of 3 ints (d, h, w), got {value!r}') from None
    if len(triple) != 3 or any(v < 0 for v in triple):
        raise ValueError(f'{name} must be 3 non-negative ints (d, h, w), got {value!r}')
    return triple  # type: ignore[return-value]


def _uniform_ints(low: Tensor, high: Tensor, shape: Tuple[int, ...],
                  generator: Optional[torch.Generator]) -> Tensor:
    """Integers uniform in ``[low, high]`` (inclusive, broadcast), one rand draw."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    span = (high - low + 1).to(torch.float64)
    return low + torch.minimum((u * span).floor().long(), high - low)


def sample_shifts(batch_size: int,
                  max_shift: Sequence[int],
                  directions: str = 'diagonal',
                  num_crops: int = 4,
                  magnitude: Optional[Sequence[Sequence[int]]] = None,
                  generator: Optional[torch.Generator] = None,
                  room: Optional[Tensor] = None) -> Tensor:
    """Draw the displacements of the shifted crops w.r.t. the fixed crop.

    Each sample gets one magnitude per axis, ``s = (s_d, s_h, s_w)``, drawn
    uniformly from the integers of ``magnitude``; all its crops share it and
    differ only in the signs of their direction (METHOD 2.2). Directions:

    * ``'diagonal'``: ``(0, +s_h, +s_w), (0, +s_h, -s_w), (0, -s_h, +s_w),
      (0, -s_h, -s_w)``;
    * ``'axis'``: ``(0, +s_h, 0), (0, -s_h, 0), (0, 0, +s_w), (0, 0, -s_w)``;
    * ``'diagonal3d'``: the 8 corners ``(+-s_d, +-s_h, +-s_w)``.

    With ``num_crops`` below the number of directions each sample uses a
    random subset (kept in the order listed above). Each component is then
    clipped to ``[-max_shift, max_shift]`` and to the room available on that
    side, so a direction without room gets shift 0 on that axis.

    Args:
        batch_size (int): Number of samples ``B``.
        max_shift (Sequence[int]): Largest shift per axis ``(md, mh, mw)``.
        directions (str): ``'diagonal'``, ``'axis'`` or ``'diagonal3d'``.
            Defaults to ``'diagonal'``.
        num_crops (int): Number of shifted crops ``K``, at most the number of
            directions. Defaults to 4.
        magnitude (Sequence[Sequence[int]], optional): Three inclusive integer
            ranges ``((lo_d, hi_d), (lo_h, hi_h), (lo_w, hi_w))``; ``(0, 0)``
            leaves an axis unshifted. Values above ``max_shift`` end up
            clipped. ``None`` fixes the magnitude at ``max_shift`` on every
            axis. Defaults to None.
        generator (torch.Generator, optional): Source of randomness.
            Defaults to None.
        room (Tensor, optional): ``(B, 3, 2)`` int, the room on the negative
            (``[..., 0]``) and positive (``[..., 1]``) side of each axis.
            ``None`` means ``max_shift`` on both sides. Defaults to None.

    Returns:
        Tensor: ``(B, K, 3)`` int64 shifts in ``(d, h, w)`` order, on the
        device of ``room`` (CPU if ``room`` is None).

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> sample_shifts(1, (0, 8, 8), magnitude=((0, 0), (8, 8), (4, 4)), generator=g)
        tensor([[[ 0,  8,  4],
                 [ 0,  8, -4],
                 [ 0, -8,  4],
                 [ 0, -8, -4]]])
    """
    if batch_size < 0:
        raise ValueError(f'sample_shifts: batch_size must be >= 0, got {batch_size}')
    max_shift = _as_triple(max_shift, 'sample_shifts: max_shift')
    if directions not in _DIRECTIONS:
        raise ValueError(f'sample_shifts: directions must be one of {sorted(_DIRECTIONS)}, '
                         f'got {directions!r}')
    signs = torch.tensor(_DIRECTIONS[directions], dtype=torch.long)  # (N, 3)
    num_dirs = signs.shape[0]
    if not 1 <= num_crops <= num_dirs:
        raise ValueError(f'sample_shifts: num_crops must be in [1, {num_dirs}] for '
                         f'directions={directions!r}, got {num_crops}')
    max_t = torch.tensor(max_shift, dtype=torch.long)
    if magnitude is None:
        low, high = max_t.clone(), max_t.clone()
    else:
        pairs = [tuple(int(v) for v in p) for p in magnitude]
        if len(pairs) != 3 or any(len(p) != 2 or p[0] < 0 or p[0] > p[1] for p in pairs):
            raise ValueError('sample_shifts: magnitude must be 3 (lo, hi) pairs with '
                             f'0 <= lo <= hi, in (d, h, w) order, got {magnitude!r}')
        low = torch.tensor([p[0] for p in pairs], dtype=torch.long)
        high = torch.tensor([p[1] for p in pairs], dtype=torch.long)

    mags = _uniform_ints(low, high, (batch_size, 3), generator)  # (B, 3)
    if num_crops < num_dirs:
        keys = torch.rand((batch_size, num_dirs), generator=generator)
        chosen = keys.argsort(dim=1)[:, :num_crops].sort(dim=1).values  # (B, K)
    else:
        chosen = torch.arange(num_dirs).expand(batch_size, num_dirs)
    shifts = signs[chosen] * mags[:, None, :]  # (B, K, 3)

    neg = max_t.expand(batch_size, 3)
    pos = neg
    if room is not None:
        if room.shape != (batch_size, 3, 2):
            raise ValueError(f'sample_shifts: room must have shape ({batch_size}, 3, 2), '
                             f'got {tuple(room.shape)}')
        room = room.long()
        if (room < 0).any():
            raise ValueError('sample_shifts: room must be >= 0 on every side')
        room_cpu = room.cpu()
        neg = torch.minimum(neg, room_cpu[..., 0])
        pos = torch.minimum(pos, room_cpu[..., 1])
    shifts = torch.maximum(torch.minimum(shifts, pos[:, None, :]), -neg[:, None, :])
    if room is not None:
        shifts = shifts.to(room.device)
    return shifts.contiguous()


_AXIS_NAMES = ('d', 'h', 'w')

#: A shift range: None (``[ceil(P/16), floor(P/4)]`` of the patch side P),
#: one ``(lo, hi)`` pair for every shifted axis, or one pair per shifted axis.
ShiftRange = Union[None, Sequence[float], Sequence[Sequence[float]]]


def shift_axis_indices(axes: Sequence[Union[str, int]]) -> Tuple[int, ...]:
    """Sorted axis indices of shift axes given as ``'d'``/``'h'``/``'w'`` or 0/1/2.

    Examples:
        >>> shift_axis_indices(('w', 'h'))
        (1, 2)
    """
    out = []
    for a in axes:
        idx = _AXIS_NAMES.index(a) if a in _AXIS_NAMES else a
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx <= 2:
            raise ValueError(f"shift axes must be a non-empty subset of ('d', 'h', 'w'), "
                             f'got {tuple(axes)!r}')
        out.append(idx)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"shift axes must be a non-empty subset of ('d', 'h', 'w') without "
                         f'repeats, got {tuple(axes)!r}')
    return tuple(sorted(out))


def _is_pair(value) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))


def shift_magnitudes(shift_range: ShiftRange, axes: Sequence[Union[str, int]],
                     size: Sequence[int]) -> Tuple[Tuple[int, int], ...]:
    """Resolve a shift range to three inclusive integer ranges, ``(d, h, w)`` order.

    Args:
        shift_range: ``None`` = ``[ceil(P/16), floor(P/4)]`` of the patch
            side ``P`` of each shifted axis (METHOD.md 2.2); a pair
            ``(lo, hi)`` used on every shifted axis; or one pair per
            shifted axis, in ``(d, h, w)`` order. A value strictly between 0
            and 1 is a fraction of ``P`` (rounded).
        axes (Sequence): The shifted axes, ``'d'``/``'h'``/``'w'`` or 0/1/2.
        size (Sequence[int]): ``(d, h, w)`` patch size.

    Returns:
        tuple: Three ``(lo, hi)`` int pairs; ``(0, 0)`` on unshifted axes.

    Examples:
        >>> shift_magnitudes(None, ('h', 'w'), (32, 64, 64))
        ((0, 0), (4, 16), (4, 16))
        >>> shift_magnitudes((4, 0.25), ('w',), (32, 64, 64))
        ((0, 0), (0, 0), (4, 16))
    """
    idx = shift_axis_indices(axes)
    size = _as_triple(size, 'shift_magnitudes: size')
    if shift_range is None:
        pairs = [None] * len(idx)
    elif _is_pair(shift_range):
        pairs = [shift_range] * len(idx)
    elif (isinstance(shift_range, Sequence) and len(shift_range) == len(idx)
          and all(_is_pair(p) for p in shift_range)):
        pairs = list(shift_range)
    else:
        raise ValueError(f'shift range must be None, a pair (lo, hi) or one pair per shifted '
                         f'axis ({len(idx)} here), got {shift_range!r}')
    out = [(0, 0)] * 3
    for a, p in zip(idx, pairs):
        if p is None:
            lo, hi = math.ceil(size[a] / 16), size[a] // 4
        else:
            lo, hi = (int(round(v * size[a])) if 0 < v < 1 else int(v) for v in p)
        if lo < 0 or hi < lo:
            raise ValueError(f'shift range {p} gives an invalid integer range ({lo}, {hi}) on '
                             f'axis {_AXIS_NAMES[a]!r} (patch side {size[a]})')
        out[a] = (lo, hi)
    return tuple(out)


def context_margin(shift_range: ShiftRange, axes: Sequence[Union[str, int]],
                   size: Sequence[int]) -> Tuple[int, int, int]:
    """Margin ``(md, mh, mw)`` a context region needs for a shift range.

    The largest shift of each axis (0 on unshifted axes): the value of
    ``ContextCrop3D(max_shift=...)`` that matches the shift settings.

    Examples:
        >>> context_margin((4, 16), ('h', 'w'), (32, 64, 64))
        (0, 16, 16)
    """
    return tuple(hi for _, hi in shift_magnitudes(shift_range, axes, size))  # type: ignore


def region_room(context_shape: Sequence[int], fixed_origin: Sequence[int],
                fixed_size: Sequence[int]) -> Tuple[Tuple[int, int], ...]:
    """Room on each side of the fixed crop inside its whole context region.

    Unlike the real-content room (which stops where the volume ends), this
    counts the zero-padded voxels of the region too.

    Args:
        context_shape (Sequence[int]): ``(D', H', W')`` of the region.
        fixed_origin, fixed_size: ``(d, h, w)`` of the fixed crop.

    Returns:
        tuple: Three ``(before, after)`` int pairs.

    Examples:
        >>> region_room((16, 40, 40), (0, 8, 8), (16, 24, 24))
        ((0, 0), (8, 8), (8, 8))
    """
    shape = _as_triple(context_shape, 'region_room: context_shape')
    origin = _as_triple(fixed_origin, 'region_room: fixed_origin')
    size = _as_triple(fixed_size, 'region_room: fixed_size')
    room = tuple((o, n - o - s) for n, o, s in zip(shape, origin, size))
    if any(b < 0 for pair in room for b in pair):
        raise ValueError(f'region_room: a fixed crop at {origin} of size {size} does not fit '
                         f'a context region of shape {shape}')
    return room


def crop_windows(volumes: Tensor, origins: Tensor, size: Sequence[int]) -> Tensor:
    """Cut ``K`` windows of one size out of each volume of a batch.

    Args:
        volumes (Tensor): ``(B, C, D', H', W')`` of any dtype; a label batch
            ``(B, D', H', W')`` is accepted too.
        origins (Tensor): ``(B, K, 3)`` int, first voxel ``(d, h, w)`` of
            each window inside its volume.
        size (Sequence[int]): Window size ``(d, h, w)``.

    Returns:
        Tensor: ``(B, K, C, d, h, w)`` copies of the windows, same dtype and
        device as ``volumes`` (``(B, K, d, h, w)`` for a 4D input).

    Raises:
        ValueError: If a window leaves its volume; the message names the
            sample, the crop and the origin.
    """
    size = _as_triple(size, 'crop_windows: size')
    squeeze = volumes.dim() == 4
    if squeeze:
        volumes = volumes[:, None]
    if volumes.dim() != 5:
        raise ValueError('crop_windows: volumes must be (B, C, D, H, W) or (B, D, H, W), '
                         f'got shape {tuple(volumes.shape)}')
    batch, channels = volumes.shape[:2]
    if origins.dim() != 3 or origins.shape[0] != batch or origins.shape[2] != 3:
        raise ValueError(f'crop_windows: origins must be ({batch}, K, 3), '
                         f'got shape {tuple(origins.shape)}')
    if origins.is_floating_point():
        raise ValueError('crop_windows: origins must be an integer tensor')
    num_crops = origins.shape[1]
    spatial = tuple(volumes.shape[2:])
    starts = origins.tolist()
    windows: List[Tensor] = []
    for b in range(batch):
        for k in range(num_crops):
            o = starts[b][k]
            if any(o[i] < 0 or o[i] + size[i] > spatial[i] for i in range(3)):
                raise ValueError(f'crop_windows: window of sample {b}, crop {k} at origin '
                                 f'{tuple(o)} with size {size} leaves the volume of shape '
                                 f'{spatial}')
            windows.append(volumes[b, :, o[0]:o[0] + size[0], o[1]:o[1] + size[1],
                                   o[2]:o[2] + size[2]])
    if windows:
        out = torch.stack(windows).reshape(batch, num_crops, channels, *size)
    else:
        out = volumes.new_zeros((batch, num_crops, channels, *size))
    return out[:, :, 0] if squeeze else out


def _axis_ranges(shift: int, length: int) -> Optional[Tuple[slice, slice]]:
    """Destination and source slices of a fill-not-wrap shift along one axis."""
    dst0, dst1 = max(shift, 0), min(length + shift, length)
    if dst1 <= dst0:
        return None
    return slice(dst0, dst1), slice(dst0 - shift, dst1 - shift)


def shift_into_frame(probs: Tensor, shifts: Tensor) -> Tuple[Tensor, Tensor]:
    """Map predictions on shifted crops into the frame of the fixed crop.

    ``aligned[b, k, :, v] = probs[b, k, :, v - shifts[b, k]]`` wherever
    ``0 <= v - shifts[b, k] < (d, h, w)``; elsewhere ``aligned`` is 0 (never
    wrapped) and ``valid`` False. A shift of at least the crop size on an axis
    leaves nothing valid. Shifting back by ``-shifts`` restores the input on
    the voxels valid after both moves.

    Args:
        probs (Tensor): ``(B, K, C, d, h, w)`` any dtype, e.g. softmax
            probabilities over ``C``.
        shifts (Tensor): ``(B, K, 3)`` int, crop origin minus fixed origin.

    Returns:
        tuple[Tensor, Tensor]: ``aligned`` ``(B, K, C, d, h, w)`` with the
        dtype of ``probs``, and ``valid`` ``(B, K, d, h, w)`` bool.

    Examples:
        >>> p = torch.arange(3.).reshape(1, 1, 1, 1, 1, 3)
        >>> aligned, valid = shift_into_frame(p, torch.tensor([[[0, 0, 1]]]))
        >>> aligned.flatten().tolist(), valid.flatten().tolist()
        ([0.0, 0.0, 1.0], [False, True, True])
    """
    if probs.dim() != 6:
        raise ValueError('shift_into_frame: probs must be (B, K, C, d, h, w), '
                         f'got shape {tuple(probs.shape)}')
    batch, num_crops = probs.shape[:2]
    if shifts.shape != (batch, num_crops, 3) or shifts.is_floating_point():
        raise ValueError(f'shift_into_frame: shifts must be an int tensor of shape '
                         f'({batch}, {num_crops}, 3), got {shifts.dtype} {tuple(shifts.shape)}')
    size = tuple(probs.shape[3:])
    aligned = torch.zeros_like(probs)
    valid = torch.zeros((batch, num_crops, *size), dtype=torch.bool, device=probs.device)
    moves = shifts.tolist()
    for b in range(batch):
        for k in range(num_crops):
            ranges = [_axis_ranges(moves[b][k][i], size[i]) for i in range(3)]
            if any(r is None for r in ranges):
                continue
            (dd, sd), (dh, sh), (dw, sw) = ranges  # type: ignore[misc]
            aligned[b, k, :, dd, dh, dw] = probs[b, k, :, sd, sh, sw]
            valid[b, k, dd, dh, dw] = True
    return aligned, valid


def overlap_region(valid: Tensor, mode: str = 'intersection') -> Tensor:
    """Voxels of the fixed crop covered by all (or any) shifted crops.

    Args:
        valid (Tensor): ``(B, K, d, h, w)`` bool, from :func:`shift_into_frame`.
        mode (str): ``'intersection'`` (covered by every crop) or
            ``'union'`` (covered by at least one). Defaults to
            ``'intersection'``.

    Returns:
        Tensor: ``(B, d, h, w)`` bool. With ``K = 0`` it is all False in both
        modes.
    """
    if valid.dim() != 5:
        raise ValueError('overlap_region: valid must be (B, K, d, h, w), '
                         f'got shape {tuple(valid.shape)}')
    valid = valid.bool()
    if mode == 'intersection':
        region = valid.all(dim=1)
    elif mode == 'union':
        region = valid.any(dim=1)
    else:
        raise ValueError(f"overlap_region: mode must be 'intersection' or 'union', got {mode!r}")
    if valid.shape[1] == 0:
        region = torch.zeros_like(region)
    return region


def class_argmax(probs: Tensor, dim: int = 1) -> Tensor:
    """``probs.argmax(dim)``, computed by comparisons along the class axis.

    Equal to :meth:`torch.Tensor.argmax` for inputs without NaN (the first
    maximal class wins a tie), but an order of magnitude faster on CPU for
    the few classes of a segmentation map, where ``argmax`` over a
    non-innermost axis takes a slow reduction path (about 30 ms for
    ``(2, 2, 32, 64, 64)`` with one thread, against 0.2 ms here).

    Args:
        probs (Tensor): Float tensor with the classes on axis ``dim``, e.g.
            ``(B, K, d, h, w)`` probabilities or logits.
        dim (int): The class axis. Defaults to 1.

    Returns:
        Tensor: int64 indices, ``probs``'s shape without ``dim``.

    Examples:
        >>> p = torch.tensor([[[0.2, 0.5, 0.7]], [[0.8, 0.5, 0.3]]]).permute(1, 0, 2)
        >>> class_argmax(p).tolist()
        [[0, 0, 1]]
    """
    num = probs.shape[dim]
    if num == 0:
        raise ValueError('class_argmax: the class axis is empty')
    best = probs.select(dim, 0)
    if num == 2:
        return (probs.select(dim, 1) > best).long()
    index = torch.zeros(best.shape, dtype=torch.long, device=probs.device)
    for c in range(1, num):
        value = probs.select(dim, c)
        better = value > best
        index = torch.where(better, torch.full_like(index, c), index)
        best = torch.where(better, value, best)
    return index


def fuse_temporary(aligned: Tensor,
                   valid: Tensor,
                   mode: str = 'mean',
                   region: Optional[Tensor] = None,
                   fixed_probs: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Fuse the aligned predictions of the shifted crops into one label.

    ``'mean'``: average the probabilities of the crops covering each voxel
    (the count varies per voxel) and take the argmax. ``'vote'``: majority
    of the per-crop hard labels; among tied classes the one with the larger
    mean probability wins (the lowest index if that ties too). With
    ``fixed_probs`` the fixed-crop prediction, which covers every voxel,
    joins the average and the vote as one more crop.

    Voxels covered by no crop get label 0 and probabilities 0; so do voxels
    outside ``region`` when it is given (COM takes the fixed label there).

    Args:
        aligned (Tensor): ``(B, K, C, d, h, w)`` float probabilities in the
            fixed frame.
        valid (Tensor): ``(B, K, d, h, w)`` bool coverage.
        mode (str): ``'mean'`` or ``'vote'``. Defaults to ``'mean'``.
        region (Tensor, optional): ``(B, d, h, w)`` bool, where to keep the
            result. Defaults to None (everywhere).
        fixed_probs (Tensor, optional): ``(B, C, d, h, w)`` float, fixed-crop
            probabilities to include. Defaults to None.

    Returns:
        tuple[Tensor, Tensor]: ``labels`` ``(B, d, h, w)`` int64 and
        ``probs`` ``(B, C, d, h, w)`` the per-voxel mean probabilities (in
        both modes), dtype of ``aligned``.
    """
    if aligned.dim() != 6 or not aligned.is_floating_point():
        raise ValueError('fuse_temporary: aligned must be a float (B, K, C, d, h, w) tensor, '
                         f'got {aligned.dtype} {tuple(aligned.shape)}')
    batch, num_crops, channels = aligned.shape[:3]
    spatial = tuple(aligned.shape[3:])
    if tuple(valid.shape) != (batch, num_crops, *spatial):
        raise ValueError(f'fuse_temporary: valid must have shape {(batch, num_crops, *spatial)}, '
                         f'got {tuple(valid.shape)}')
    if mode not in ('mean', 'vote'):
        raise ValueError(f"fuse_temporary: mode must be 'mean' or 'vote', got {mode!r}")
    weight = valid.to(aligned.dtype).unsqueeze(2)  # (B, K, 1, d, h, w)
    total = (aligned * weight).sum(dim=1)  # (B, C, d, h, w)
    count = weight.sum(dim=1)  # (B, 1, d, h, w)
    if fixed_probs is not None:
        if tuple(fixed_probs.shape) != (batch, channels, *spatial):
            raise ValueError('fuse_temporary: fixed_probs must have shape '
                             f'{(batch, channels, *spatial)}, got {tuple(fixed_probs.shape)}')
        total = total + fixed_probs.to(aligned.dtype)
        count = count + 1
    probs = torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))

    if mode == 'mean':
        labels = class_argmax(probs, dim=1)
    else:
        hard = class_argmax(aligned, dim=2)  # (B, K, d, h, w)
        votes = (torch.nn.functional.one_hot(hard, channels).movedim(-1, 2).to(aligned.dtype) *
                 weight).sum(dim=1)  # (B, C, d, h, w)
        if fixed_probs is not None:
            votes = votes + torch.nn.functional.one_hot(class_argmax(fixed_probs, dim=1),
                                                        channels).movedim(-1, 1).to(votes.dtype)
        tied = votes == votes.amax(dim=1, keepdim=True)
        score = torch.where(tied, probs, torch.full_like(probs, -1.0))
        labels = class_argmax(score, dim=1)

    if region is not None:
        if tuple(region.shape) != (batch, *spatial):
            raise ValueError(f'fuse_temporary: region must have shape {(batch, *spatial)}, '
                             f'got {tuple(region.shape)}')
        keep = region.bool()
        labels = torch.where(keep, labels, torch.zeros_like(labels))
        probs = torch.where(keep[:, None], probs, torch.zeros_like(probs))
    return labels.long(), probs


def com_merge(fixed: Tensor, temporary: Tensor, region: Tensor) -> Tensor:
    """COM: the temporary label inside ``region``, the fixed one outside.

    ``dynamic = M * temporary + (1 - M) * fixed`` with ``M = region``.

    Args:
        fixed (Tensor): ``(B, d, h, w)`` int64 fixed pseudo-label.
        temporary (Tensor): ``(B, d, h, w)`` int64 temporary pseudo-label.
        region (Tensor): ``(B, d, h, w)`` bool (or 0/1) overlap mask ``M``.

    Returns:
        Tensor: ``(B, d, h, w)`` int64 dynamic pseudo-label.
    """
    if fixed.shape != temporary.shape or fixed.shape != region.shape:
        raise ValueError('com_merge: fixed, temporary and region must share one shape, got '
                         f'{tuple(fixed.shape)}, {tuple(temporary.shape)}, {tuple(region.shape)}')
    if region.dtype != torch.bool and ((region != 0) & (region != 1)).any():
        raise ValueError('com_merge: region must be boolean or hold only 0 and 1')
    return torch.where(region.bool(), temporary, fixed).long()


def cutmix_box(size: Sequence[int],
               generator: Optional[torch.Generator] = None,
               beta: Tuple[float, float] = (4.0, 4.0),
               full_depth: bool = True) -> Box:
    """Draw one CutMix box (METHOD 2.5).

    ``lambda ~ Beta(a, b)`` is obtained by inverse-CDF sampling: ``u`` is
    drawn with ``torch.rand(generator=generator)`` and mapped through
    ``scipy.special.betaincinv(a, b, u)``, so a seeded generator gives the
    same box every time. On each boxed axis of length ``L`` the box side is
    ``floor(L * sqrt(1 - lambda))`` and its centre is an integer uniform in
    ``[floor(L / 8), L)``; the box is clipped at the border (it may be empty
    when ``lambda`` is close to 1). With ``full_depth`` the box spans all of
    ``d``; otherwise ``d`` follows the same rule (a 3D cuboid). Four uniform
    numbers are drawn either way.

    Args:
        size (Sequence[int]): Patch size ``(d, h, w)``.
        generator (torch.Generator, optional): Source of randomness.
            Defaults to None.
        beta (tuple[float, float]): Parameters ``(a, b)`` of the Beta law.
            Defaults to ``(4.0, 4.0)``.
        full_depth (bool): Span the whole depth. Defaults to True.

    Returns:
        tuple[int, ...]: Half-open box ``(d0, h0, w0, d1, h1, w1)``.
    """
    size = _as_triple(size, 'cutmix_box: size')
    if len(beta) != 2 or not all(float(v) > 0 for v in beta):
        raise ValueError(f'cutmix_box: beta must be two positive numbers, got {beta!r}')
    u = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
    lam = float(betaincinv(float(beta[0]), float(beta[1]), u[0]))
    ratio = math.sqrt(max(0.0, 1.0 - lam))
    lo: List[int] = []
    hi: List[int] = []
    for axis, length in enumerate(size):
        if axis == 0 and full_depth:
            lo.append(0)
            hi.append(length)
            continue
        side = int(length * ratio)
        first = length // 8
        centre = first + min(int(u[axis + 1] * (length - first)), max(length - first - 1, 0))
        start = centre - side // 2
        lo.append(min(max(start, 0), length))
        hi.append(min(max(start + side, 0), length))
    return (lo[0], lo[1], lo[2], hi[0], hi[1], hi[2])


def box_to_mask(box: Sequence[int],
                size: Sequence[int],
                device: Optional[Union[str, torch.device]] = None) -> Tensor:
    """Rasterise a half-open box.

    Args:
        box (Sequence[int]): ``(d0, h0, w0, d1, h1, w1)`` inside ``size``.
        size (Sequence[int]): Mask size ``(d, h, w)``.
        device (str | torch.device, optional): Device of the mask.
            Defaults to None (CPU).

    Returns:
        Tensor: ``(d, h, w)`` float32, 1 inside the box and 0 elsewhere.
    """
    size = _as_triple(size, 'box_to_mask: size')
    box = tuple(int(v) for v in box)
    if len(box) != 6 or any(not 0 <= box[i] <= box[i + 3] <= size[i] for i in range(3)):
        raise ValueError(f'box_to_mask: box must be (d0, h0, w0, d1, h1, w1) with '
                         f'0 <= start <= end <= size {size}, got {box!r}')
    mask = torch.zeros(size, dtype=torch.float32, device=device)
    mask[box[0]:box[3], box[1]:box[4], box[2]:box[5]] = 1
    return mask


def pair_partners(batch_size: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Draw the CUT partner of every sample.

    For even ``B`` the samples are split into random disjoint pairs, so the
    result is an involution without fixed points (``B = 2`` gives
    ``[1, 0]``). For odd ``B > 1`` it is a random cyclic derangement, one
    cycle through all samples.

    Args:
        batch_size (int): Number of samples ``B``, at least 2.
        generator (torch.Generator, optional): Source of randomness.
            Defaults to None.

    Returns:
        Tensor: ``(B,)`` int64, ``partners[b]`` is the sample whose content
        fills the box of sample ``b``.

    Raises:
        ValueError: If ``B < 2`` (CUT needs two images).
    """
    if batch_size < 2:
        raise ValueError('pair_partners: CUT needs at least two images, '
                         f'got batch_size={batch_size}')
    order = torch.randperm(batch_size, generator=generator)
    partners = torch.empty(batch_size, dtype=torch.long)
    if batch_size % 2 == 0:
        first, second = order[0::2], order[1::2]
        partners[first] = second
        partners[second] = first
    else:
        partners[order] = order.roll(-1)
    return partners


def _check_partners(partners: Tensor, batch_size: int, name: str) -> Tensor:
    """Check that ``partners`` is a permutation of ``range(batch_size)``."""
    if partners.shape != (batch_size, ) or partners.is_floating_point():
        raise ValueError(f'{name}: partners must be an int tensor of shape ({batch_size},), '
                         f'got {partners.dtype} {tuple(partners.shape)}')
    partners = partners.long()
    if not torch.equal(partners.sort().values.cpu(), torch.arange(batch_size)):
        raise ValueError(f'{name}: partners must be a permutation of 0..{batch_size - 1}, '
                         f'got {partners.tolist()}')
    return partners


def _cycle_leaders(partners: Tensor) -> Tensor:
    """Index of the smallest member of each sample's cycle under ``partners``."""
    perm = partners.tolist()
    leaders = [-1] * len(perm)
    for start in range(len(perm)):
        if leaders[start] >= 0:
            continue
        b = start
        while leaders[b] < 0:
            leaders[b] = start
            b = perm[b]
    return torch.tensor(leaders, dtype=torch.long)


def pair_masks(boxes_or_masks: Union[Tensor, Sequence[Sequence[int]]],
               partners: Tensor,
               size: Optional[Sequence[int]] = None) -> Tensor:
    """Make the CUT masks equal within each pair (each cycle) of partners.

    Every sample takes the mask of the first member (smallest index) of its
    pair; for a cyclic derangement the whole cycle shares that mask. This is
    what lets :func:`cut_unmix` restore the originals. Boxes are rasterised
    with :func:`box_to_mask` first.

    Args:
        boxes_or_masks (Tensor | Sequence): ``(B, d, h, w)`` masks, or ``B``
            boxes ``(d0, h0, w0, d1, h1, w1)``.
        partners (Tensor): ``(B,)`` int64 permutation from
            :func:`pair_partners`.
        size (Sequence[int], optional): Mask size ``(d, h, w)``, required
            for boxes. Defaults to None.

    Returns:
        Tensor: ``(B, d, h, w)`` masks (float32 for boxes, the input dtype
        for masks).
    """
    if isinstance(boxes_or_masks, Tensor):
        masks = boxes_or_masks
        if masks.dim() != 4:
            raise ValueError('pair_masks: masks must be (B, d, h, w), '
                             f'got shape {tuple(masks.shape)}')
    else:
        if size is None:
            raise ValueError('pair_masks: size (d, h, w) is required when boxes are given')
        device = partners.device
        masks = torch.stack([box_to_mask(box, size, device=device) for box in boxes_or_masks])
    partners = _check_partners(partners, masks.shape[0], 'pair_masks')
    return masks[_cycle_leaders(partners).to(masks.device)].clone()


def _mix_inputs(x: Tensor, masks: Tensor, partners: Tensor, name: str,
                whole_cycles: bool) -> Tuple[Tensor, Tensor]:
    """Validate CUT inputs; return the mask broadcast to ``x`` and the partners.

    Masks must agree within every pair (2-cycle) of ``partners``; with
    ``whole_cycles`` also along longer cycles.
    """
    if x.dim() < 4 or masks.dim() != 4 or x.shape[0] != masks.shape[0] or \
            x.shape[-3:] != masks.shape[-3:]:
        raise ValueError(f'{name}: x must be (B, ..., d, h, w) and masks (B, d, h, w) with the '
                         f'same B, d, h, w, got {tuple(x.shape)} and {tuple(masks.shape)}')
    partners = _check_partners(partners, x.shape[0], name).to(x.device)
    p = partners.to(masks.device)
    checked = torch.ones_like(p, dtype=torch.bool) if whole_cycles else p[p] == torch.arange(
        p.numel(), device=p.device)
    if not torch.equal(masks[checked], masks[p][checked]):
        what = 'cycle' if whole_cycles else 'pair'
        raise ValueError(f'{name}: masks must be equal within each {what} of partners '
                         '(use pair_masks)')
    mask = masks.to(x.device).reshape(masks.shape[0], *([1] * (x.dim() - 4)), *masks.shape[1:])
    if not x.is_floating_point() and mask.dtype != torch.bool and \
            ((mask != 0) & (mask != 1)).any():
        raise ValueError(f'{name}: masks must be binary to mix an integer (label) tensor')
    return mask, partners


def _blend(x: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``(1 - mask) * x + mask * source``; a ``torch.where`` for non-float x."""
    if x.is_floating_point():
        m = mask.to(x.dtype)
        return (1 - m) * x + m * source
    return torch.where(mask.bool(), source, x)


def cut_mix(x: Tensor, masks: Tensor, partners: Tensor) -> Tensor:
    """CUT: paste each partner's box content into every sample.

    ``out[b] = (1 - M[b]) * x[b] + M[b] * x[partners[b]]``. Float tensors are
    blended arithmetically; integer and bool tensors (labels) are selected
    with ``torch.where`` and keep their dtype. Images and their labels must
    be mixed with the same ``masks`` and ``partners``.

    Args:
        x (Tensor): ``(B, d, h, w)`` or ``(B, C, d, h, w)`` (any extra axes
            between B and d, h, w), any dtype.
        masks (Tensor): ``(B, d, h, w)`` float or bool, equal within each pair
            of partners (see :func:`pair_masks`). Along a longer cycle (odd
            ``B``) they may differ, but then :func:`cut_unmix` refuses them.
        partners (Tensor): ``(B,)`` int64 permutation.

    Returns:
        Tensor: Mixed tensor, shape and dtype of ``x``.
    """
    mask, partners = _mix_inputs(x, masks, partners, 'cut_mix', whole_cycles=False)
    return _blend(x, mask, x[partners])


def cut_unmix(x_mixed: Tensor, masks: Tensor, partners: Tensor) -> Tensor:
    """Undo :func:`cut_mix` given the same masks and partners.

    Inside ``M[b]`` the original content of sample ``b`` was pasted into
    sample ``q(b)``, ``q`` the inverse permutation of ``partners``; it is
    read back from there. For an involution this equals calling
    :func:`cut_mix` again.

    Args:
        x_mixed (Tensor): ``(B, ..., d, h, w)`` output of :func:`cut_mix`.
        masks (Tensor): ``(B, d, h, w)`` the masks used for mixing, equal
            along each cycle of ``partners``.
        partners (Tensor): ``(B,)`` the partners used for mixing.

    Returns:
        Tensor: The original tensor (exact for binary masks), shape and dtype
        of ``x_mixed``.
    """
    mask, partners = _mix_inputs(x_mixed, masks, partners, 'cut_unmix', whole_cycles=True)
    inverse = torch.empty_like(partners)
    inverse[partners] = torch.arange(partners.numel(), device=partners.device)
    return _blend(x_mixed, mask, x_mixed[inverse])


def pseudo_label_stats(labels: Tensor, reference: Optional[Tensor] = None) -> Dict[str, float]:
    """Monitoring numbers for a batch of pseudo-labels.

    Foreground is every class index above 0.

    Args:
        labels (Tensor): ``(B, ...)`` int64 labels.
        reference (Tensor, optional): ``(B, ...)`` int64 labels to compare
            with (ground truth, or another pseudo-label). Defaults to None.

    Returns:
        dict[str, float]: ``fg_fraction`` of ``labels``; with ``reference``
        also ``ref_fg_fraction``, ``dice`` (foreground Dice over the whole
        batch; 1.0 when both are empty) and ``accuracy`` (fraction of equal
        voxels). An empty tensor gives 0.0 fractions.
    """
    if labels.is_floating_point():
        raise ValueError(f'pseudo_label_stats: labels must be integer, got {labels.dtype}')
    numel = max(labels.numel(), 1)
    fg = labels > 0
    stats = {'fg_fraction': fg.sum().item() / numel}
    if reference is not None:
        if reference.shape != labels.shape:
            raise ValueError('pseudo_label_stats: reference must have the shape of labels '
                             f'{tuple(labels.shape)}, got {tuple(reference.shape)}')
        ref_fg = reference > 0
        inter = (fg & ref_fg).sum().item()
        denom = fg.sum().item() + ref_fg.sum().item()
        stats['ref_fg_fraction'] = ref_fg.sum().item() / numel
        stats['dice'] = 2.0 * inter / denom if denom > 0 else 1.0
        stats['accuracy'] = (labels == reference).sum().item() / numel
    return stats
