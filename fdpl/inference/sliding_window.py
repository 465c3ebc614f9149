"""Patch-based inference on whole volumes.

Two ways of tiling a volume are provided:

* ``'classic'`` reproduces the test protocol shared by the semi-supervised
  3D segmentation literature (V-Net based code bases): sides smaller than
  the patch are zero-padded symmetrically, windows are placed every
  ``stride`` voxels with the last one flush with the end, and the softmax
  outputs of overlapping windows are averaged uniformly.
* ``'gaussian'`` follows the nnU-Net recipe: window starts are spread to
  cover the volume exactly for a requested overlap fraction, and each
  window's output is weighted by a Gaussian centred on the patch, which
  damps the less reliable borders.

* ``'whole'`` runs the predictor once on the whole volume, zero-padded to a
  multiple of the network's size divisor (16 for V-Net): a fully
  convolutional network in eval mode needs no tiling.

All functions work on batches ``(B, C, D, H, W)`` and take a ``predictor``
callable (a network in eval mode, or any function) mapping
``(N, C, d, h, w)`` to ``(N, K, d, h, w)``. They neither switch the module's
train/eval mode nor disable autograd: call them inside ``torch.no_grad()``.
Which mode to use when: ``docs/inference_modes.md``.
"""
import math
from functools import lru_cache
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Predictor = Callable[[Tensor], Tensor]
Size3 = Union[int, Sequence[int]]

#: Inference modes of :func:`sliding_window_inference` (and of ``test_cfg.mode``).
MODES = ('classic', 'gaussian', 'whole')
#: Windows per forward in the non-classic modes when ``test_cfg`` leaves
#: ``sw_batch_size`` unset (measured on CPU, docs/inference_modes.md).
DEFAULT_SW_BATCH_SIZE = 4


def compute_window_starts(size: int, patch: int, stride: int) -> List[int]:
    """Start indices of the windows along one axis (the field's rule).

    ``n = ceil((size - patch) / stride) + 1`` windows; window ``i`` starts at
    ``min(i * stride, size - patch)``, so the last one ends flush with the
    volume.

    Args:
        size (int): Length of the (padded) axis; must be ``>= patch``.
        patch (int): Window length along the axis.
        stride (int): Distance between consecutive window starts, ``> 0``.

    Returns:
        list[int]: Increasing start indices; ``[0]`` when ``size == patch``.

    Examples:
        >>> compute_window_starts(190, 112, 18)
        [0, 18, 36, 54, 72, 78]
    """
    size, patch, stride = int(size), int(patch), int(stride)
    _check_axis(size, patch)
    if stride <= 0:
        raise ValueError(f'stride must be a positive integer, got {stride}')
    n = math.ceil((size - patch) / stride) + 1
    return [min(i * stride, size - patch) for i in range(n)]


def compute_window_starts_by_overlap(size: int, patch: int, overlap: float = 0.5) -> List[int]:
    """Start indices spaced evenly to cover one axis for an overlap fraction.

    The target step is ``patch * (1 - overlap)``; the number of windows is
    the smallest one reaching the end with steps no longer than the target,
    and the actual steps are then spread evenly between ``0`` and
    ``size - patch`` (the nnU-Net tiling), so both ends are covered exactly.

    Args:
        size (int): Length of the (padded) axis; must be ``>= patch``.
        patch (int): Window length along the axis.
        overlap (float): Fraction of a patch shared by neighbouring windows,
            in ``[0, 1)``.

    Returns:
        list[int]: Increasing start indices, first ``0``, last
        ``size - patch``.

    Examples:
        >>> compute_window_starts_by_overlap(100, 40, 0.5)
        [0, 20, 40, 60]
    """
    size, patch = int(size), int(patch)
    _check_axis(size, patch)
    if not 0 <= overlap < 1:
        raise ValueError(f'overlap must lie in [0, 1), got {overlap}')
    span = size - patch
    target_step = max(patch * (1 - overlap), 1.0)
    num = math.ceil(span / target_step) + 1
    if num == 1:
        return [0]
    step = span / (num - 1)
    return [int(round(i * step)) for i in range(num)]


def gaussian_importance_map(patch: Size3, sigma_scale: float = 1. / 8) -> Tensor:
    """Gaussian weights of a patch, peak 1 at its centre.

    The map is separable, with standard deviation ``patch_i * sigma_scale``
    along axis ``i``. Values that underflow to zero are raised to the
    smallest positive value of the map, so dividing by a sum of such maps
    never gives NaN. Results are cached per ``(patch, sigma_scale)``; a fresh
    copy is returned on every call.

    Args:
        patch (int | Sequence[int]): Patch size ``(d, h, w)`` (an int is used
            for all three axes).
        sigma_scale (float): Standard deviation as a fraction of the patch
            side. Defaults to 1/8.

    Returns:
        Tensor: ``(d, h, w)`` float32 weights in ``(0, 1]``.
    """
    if sigma_scale <= 0:
        raise ValueError(f'sigma_scale must be positive, got {sigma_scale}')
    return _cached_gaussian(_as_triple(patch, 'patch'), float(sigma_scale)).clone()


@lru_cache(maxsize=8)
def _cached_gaussian(patch: Tuple[int, int, int], sigma_scale: float) -> Tensor:
    weights = None
    for axis, p in enumerate(patch):
        coords = torch.arange(p, dtype=torch.float64) - (p - 1) / 2.
        profile = torch.exp(-0.5 * (coords / (p * sigma_scale))**2)
        shape = [1, 1, 1]
        shape[axis] = p
        profile = profile.view(shape)
        weights = profile if weights is None else weights * profile
    weights = (weights / weights.max()).float()
    # The peak is 1, so a positive value always exists.
    floor = weights[weights > 0].min()
    return torch.where(weights > 0, weights, floor)


def sliding_window_inference(inputs: Tensor,
                             predictor: Predictor,
                             patch_size: Size3,
                             stride: Optional[Size3] = None,
                             mode: str = 'classic',
                             overlap: float = 0.5,
                             sw_batch_size: int = 1,
                             apply_softmax: bool = True,
                             num_classes: Optional[int] = None,
                             size_divisor: int = 16) -> Tensor:
    """Class probabilities of whole volumes from patch predictions.

    Procedure (``mode='classic'``, the field's protocol):

    1. every side smaller than the patch is zero-padded by
       ``pad = patch - side``, ``pad // 2`` before and the rest after;
    2. window starts per axis follow :func:`compute_window_starts`;
    3. each window's softmax output is added into a score map and 1 into a
       count map; the score map is divided by the counts;
    4. the padding is removed.

    ``mode='gaussian'`` pads the same way, places windows with
    :func:`compute_window_starts_by_overlap` (unless ``stride`` is given,
    then with the classic rule) and weights every window's output by
    :func:`gaussian_importance_map` before normalising by the summed
    weights. ``mode='whole'`` ignores the window options and calls
    :func:`whole_volume_inference` (one predictor call on the volume padded
    to a multiple of ``size_divisor``).

    Several windows (``sw_batch_size``) can go through ``predictor`` in one
    call, in either windowed mode; with a network in eval mode the result
    does not depend on it (up to float rounding). Outputs are accumulated in
    place into one score map and one weight map; nothing else of the volume's
    size is allocated per window.

    Args:
        inputs (Tensor): Images ``(B, C, D, H, W)``.
        predictor (Callable[[Tensor], Tensor]): Maps ``(N, C, d, h, w)``
            windows to ``(N, K, d, h, w)`` logits (or probabilities when
            ``apply_softmax=False``). ``N = n_windows * B``, windows first:
            the ``B`` samples of the first window, then those of the second.
        patch_size (int | Sequence[int]): Window size ``(d, h, w)``.
        stride (int | Sequence[int], optional): Window step ``(d, h, w)``.
            In classic mode, when omitted, it is
            ``max(1, floor(patch * (1 - overlap)))`` per axis; LA uses
            ``(4, 18, 18)`` with patch ``(80, 112, 112)``.
        mode (str): ``'classic'`` (uniform averaging), ``'gaussian'`` or
            ``'whole'``. Defaults to 'classic'.
        overlap (float): Overlap fraction in ``[0, 1)``, used when
            ``stride`` is omitted. Defaults to 0.5.
        sw_batch_size (int): Windows per predictor call. Defaults to 1.
        apply_softmax (bool): Softmax over ``K`` on the predictor output
            before accumulation. Defaults to True.
        num_classes (int, optional): Expected ``K``; checked against the
            predictor output when given.
        size_divisor (int): Padding multiple of ``mode='whole'``. Defaults
            to 16.

    Returns:
        Tensor: Probabilities ``(B, K, D, H, W)`` float32 on the device of
        ``inputs``.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    _check_inputs(inputs)
    sw_batch_size = int(sw_batch_size)
    if sw_batch_size < 1:
        raise ValueError(f'sw_batch_size must be >= 1, got {sw_batch_size}')
    if not 0 <= overlap < 1:
        raise ValueError(f'overlap must lie in [0, 1), got {overlap}')
    patch = _as_triple(patch_size, 'patch_size')
    if mode == 'whole':
        out = whole_volume_inference(inputs, predictor, size_divisor, apply_softmax)
        if num_classes is not None and out.shape[1] != num_classes:
            raise ValueError(f'predictor returned {out.shape[1]} classes, '
                             f'num_classes={num_classes}')
        return out
    batch = inputs.shape[0]
    spatial = tuple(inputs.shape[2:])

    padded, pads = _pad_to_at_least(inputs, patch)
    padded_shape = tuple(padded.shape[2:])
    windows = window_positions(padded_shape, patch, stride, mode, overlap)

    weight = None
    if mode == 'gaussian':
        weight = gaussian_importance_map(patch).to(inputs.device)[None, None]

    scores = None
    norm = torch.zeros((1, 1) + padded_shape, dtype=torch.float32, device=inputs.device)
    for first in range(0, len(windows), sw_batch_size):
        group = windows[first:first + sw_batch_size]
        crops = [padded[:, :, d:d + patch[0], h:h + patch[1], w:w + patch[2]] for d, h, w in group]
        out = predictor(torch.cat(crops, dim=0))  # a copy: the predictor may change it
        out = _check_output(out, len(group) * batch, patch, num_classes)
        out = torch.softmax(out.float(), dim=1) if apply_softmax else out.float()
        if scores is None:
            scores = torch.zeros((batch, out.shape[1]) + padded_shape,
                                 dtype=torch.float32,
                                 device=inputs.device)
        for j, (d, h, w) in enumerate(group):
            region = (slice(None), slice(None), slice(d, d + patch[0]), slice(h, h + patch[1]),
                      slice(w, w + patch[2]))
            piece = out[j * batch:(j + 1) * batch]
            if weight is None:
                scores[region].add_(piece)
                norm[region].add_(1.)
            else:
                scores[region].addcmul_(piece, weight)
                norm[region].add_(weight)
    return _crop(scores.div_(norm), pads, spatial)


def window_positions(shape: Sequence[int],
                     patch_size: Size3,
                     stride: Optional[Size3] = None,
                     mode: str = 'classic',
                     overlap: float = 0.5) -> List[Tuple[int, int, int]]:
    """Start corners ``(d, h, w)`` of the windows tiling a (padded) volume.

    The rule of :func:`sliding_window_inference`: with ``stride`` (or in
    classic mode) :func:`compute_window_starts` per axis, otherwise
    :func:`compute_window_starts_by_overlap`.

    Args:
        shape (Sequence[int]): Spatial shape ``(D, H, W)``, each side at
            least the patch side.
        patch_size (int | Sequence[int]): Window size ``(d, h, w)``.
        stride (int | Sequence[int], optional): Window step ``(d, h, w)``.
        mode (str): ``'classic'`` or ``'gaussian'``. Defaults to 'classic'.
        overlap (float): Overlap fraction in ``[0, 1)``. Defaults to 0.5.

    Returns:
        list[tuple[int, int, int]]: Window corners, ``w`` fastest.

    Examples:
        >>> len(window_positions((88, 142, 190), (80, 112, 112), (4, 18, 18)))
        54
        >>> len(window_positions((88, 132, 175), (80, 112, 112), mode='gaussian'))
        12
    """
    patch = _as_triple(patch_size, 'patch_size')
    shape = tuple(int(s) for s in shape)
    if stride is None and mode == 'gaussian':
        starts = [compute_window_starts_by_overlap(s, p, overlap) for s, p in zip(shape, patch)]
    else:
        if stride is None:
            steps = tuple(max(1, int(p * (1 - overlap))) for p in patch)
        else:
            steps = _as_triple(stride, 'stride')
        starts = [compute_window_starts(s, p, t) for s, p, t in zip(shape, patch, steps)]
    return [(d, h, w) for d in starts[0] for h in starts[1] for w in starts[2]]


def whole_volume_inference(inputs: Tensor,
                           predictor: Predictor,
                           size_divisor: int = 16,
                           apply_softmax: bool = True) -> Tensor:
    """Class probabilities from one forward pass over the whole volume.

    Each side is zero-padded to a multiple of ``size_divisor`` (half before,
    the rest after, as in the classic protocol), the predictor runs once and
    the padding is cropped off again.

    Args:
        inputs (Tensor): Images ``(B, C, D, H, W)``.
        predictor (Callable[[Tensor], Tensor]): Maps ``(B, C, D', H', W')``
            to ``(B, K, D', H', W')`` logits (or probabilities).
        size_divisor (int): Padded sides are multiples of it (16 for V-Net's
            four down-samplings). Defaults to 16.
        apply_softmax (bool): Softmax over ``K``. Defaults to True.

    Returns:
        Tensor: Probabilities ``(B, K, D, H, W)`` float32.
    """
    _check_inputs(inputs)
    if int(size_divisor) < 1:
        raise ValueError(f'size_divisor must be >= 1, got {size_divisor}')
    spatial = tuple(inputs.shape[2:])
    target = tuple(int(math.ceil(s / size_divisor) * size_divisor) for s in spatial)
    padded, pads = _pad_to_at_least(inputs, target)
    out = _check_output(predictor(padded), inputs.shape[0], tuple(padded.shape[2:]), None)
    out = torch.softmax(out.float(), dim=1) if apply_softmax else out.float()
    return _crop(out, pads, spatial)


def _as_triple(value: Size3, name: str) -> Tuple[int, int, int]:
    """Normalise an int or a 3-sequence of positive ints."""
    if isinstance(value, int):
        value = (value, ) * 3
    value = tuple(int(v) for v in value)
    if len(value) != 3 or min(value) < 1:
        raise ValueError(f'{name} must be a positive int or three positive ints (d, h, w), '
                         f'got {value}')
    return value


def _check_axis(size: int, patch: int) -> None:
    if patch < 1:
        raise ValueError(f'patch must be positive, got {patch}')
    if size < patch:
        raise ValueError(f'axis of length {size} is shorter than the patch {patch}; '
                         'pad it first')


def _check_inputs(inputs: Tensor) -> None:
    if not isinstance(inputs, Tensor) or inputs.dim() != 5:
        shape = tuple(inputs.shape) if hasattr(inputs, 'shape') else type(inputs).__name__
        raise ValueError(f'inputs must be a (B, C, D, H, W) tensor, got {shape}')


def _check_output(out: Tensor, n: int, spatial: Tuple[int, ...],
                  num_classes: Optional[int]) -> Tensor:
    if not isinstance(out, Tensor) or out.dim() != 5 or out.shape[0] != n \
            or tuple(out.shape[2:]) != tuple(spatial):
        shape = tuple(out.shape) if hasattr(out, 'shape') else type(out).__name__
        raise ValueError(f'predictor must return (N, K, d, h, w) = ({n}, K, '
                         f'{", ".join(map(str, spatial))}), got {shape}')
    if num_classes is not None and out.shape[1] != num_classes:
        raise ValueError(f'predictor returned {out.shape[1]} classes, num_classes={num_classes}')
    return out


def _pad_to_at_least(inputs: Tensor,
                     target: Tuple[int, int, int]) -> Tuple[Tensor, Tuple[Tuple[int, int], ...]]:
    """Zero-pad each spatial side up to ``target`` (``pad // 2`` before)."""
    pads = []
    for size, want in zip(inputs.shape[2:], target):
        total = max(want - size, 0)
        pads.append((total // 2, total - total // 2))
    if any(sum(p) for p in pads):
        # F.pad lists the last axis first.
        flat = [v for before_after in reversed(pads) for v in before_after]
        inputs = F.pad(inputs, flat, mode='constant', value=0.)
    return inputs, tuple(pads)


def _crop(volume: Tensor, pads: Tuple[Tuple[int, int], ...], spatial: Tuple[int, ...]) -> Tensor:
    """Remove the padding added by :func:`_pad_to_at_least`."""
    (d0, _), (h0, _), (w0, _) = pads
    return volume[:, :, d0:d0 + spatial[0], h0:h0 + spatial[1], w0:w0 + spatial[2]].contiguous()
