"""Dynamic pseudo-label: shifted crops, temporary label and COM."""
from typing import Optional, Sequence

import torch

from fdpl.registry import PSEUDO_LABELERS
from .base import BasePseudoLabeler, PseudoLabel
from .functional import (ShiftRange, class_argmax, com_merge, fuse_temporary, overlap_region,
                         region_room, sample_shifts, shift_axis_indices, shift_into_frame,
                         shift_magnitudes)

_AXES = {'d': 0, 'h': 1, 'w': 2}
RangeLike = ShiftRange


def context_room(context_mask: torch.Tensor, fixed_origin: Sequence[int],
                 fixed_size: Sequence[int]) -> torch.Tensor:
    """Real-content room around the fixed crop of each context region.

    Args:
        context_mask (Tensor): ``(B, 1, D', H', W')``, 1 = real voxel.
        fixed_origin, fixed_size: ``(d, h, w)`` of the fixed crop.

    Returns:
        Tensor: ``(B, 3, 2)`` int64, voxels of real content before
        (``[..., 0]``) and after (``[..., 1]``) the fixed crop on each axis.
    """
    m = context_mask[:, 0] > 0
    room = torch.zeros(m.shape[0], 3, 2, dtype=torch.long)
    for a in range(3):
        other = tuple(x for x in (1, 2, 3) if x != a + 1)
        line = m.any(dim=other)  # (B, L)
        idx = torch.arange(line.shape[1]).expand_as(line)
        first = torch.where(line, idx, torch.full_like(idx, line.shape[1])).min(1).values
        last = torch.where(line, idx, torch.full_like(idx, -1)).max(1).values + 1
        room[:, a, 0] = (fixed_origin[a] - first).clamp(min=0)
        room[:, a, 1] = (last - fixed_origin[a] - fixed_size[a]).clamp(min=0)
    return room


@PSEUDO_LABELERS.register_module()
class DynamicPseudoLabel(BasePseudoLabeler):
    """``yhat^{u_d} = M * yhat^{u_t} + (1 - M) * yhat^{u_f}`` (METHOD.md 2.2-2.3).

    Each call draws new shifts (per sample), asks for the shifted windows,
    maps the teacher's probabilities on them back into the fixed crop's
    frame, fuses them into a temporary label on the overlapping region
    ``Omega`` and completes it with the fixed label outside ``Omega`` (COM).

    Where a shifted window would leave the volume (METHOD.md section 7, row
    3), ``shift_pad=False`` clips the shift to the real image content of
    the context region (0 on a side without room), and ``shift_pad=True``
    applies the drawn shift as it is: the window then covers the
    zero-padded voxels of the context region (``context_mask == 0``), which
    :class:`~fdpl.datasets.transforms.ContextCrop3D` makes ``max_shift``
    wide on every side. ``max_shift`` must then be at least the top of
    ``shift_range``; fdpl derives it from ``model.semi_train_cfg.shift``.

    In training the three ``shift_*`` options are set from
    ``model.semi_train_cfg.shift`` (``range``, ``axes``, ``pad``), never in
    the strategy's own config.

    Logged statistics: ``region`` (fraction of the crop in ``Omega``),
    ``changed`` (fraction where the dynamic label differs from the fixed
    one), ``shift_<axis>`` (mean absolute shift applied on each shifted
    axis, in voxels) and, with confidence masking, ``kept``.

    Args:
        directions (str): 'diagonal' (the four in-plane diagonals, default),
            'axis' (+h, -h, +w, -w) or 'diagonal3d' (corners of a cube).
        num_crops (int): Shifted crops per sample; fewer than the number of
            directions draws a random subset (1 = one random shift).
            Defaults to 4.
        shift_axes (sequence[str]): Axes that are shifted. Defaults to
            ``('h', 'w')`` (in-plane). 'diagonal3d' needs all three.
        shift_range: Magnitude range per shifted axis, drawn uniformly per
            sample: None = ``[ceil(P/16), floor(P/4)]`` of the patch side P;
            a pair ``(lo, hi)`` for every shifted axis, or one pair per
            shifted axis; values below 1 are fractions of P. Defaults to None.
        shift_pad (bool): Apply the drawn shift even where the window leaves
            the volume (zero padding) instead of clipping it to the real
            content. Defaults to False.
        region (str): 'intersection' of the crops' overlaps (default) or
            'union' (per-voxel average over the crops that cover it).
        fusion (str): 'mean' of probabilities then argmax (default) or
            'vote' (majority of hard labels).
        include_fixed (bool): Also average the fixed crop's probabilities
            into the temporary label. Defaults to False.
        confidence_threshold (float, optional): See
            :class:`BasePseudoLabeler`.
    """

    def __init__(self, directions: str = 'diagonal', num_crops: int = 4,
                 shift_axes: Sequence[str] = ('h', 'w'), shift_range: RangeLike = None,
                 shift_pad: bool = False, region: str = 'intersection', fusion: str = 'mean',
                 include_fixed: bool = False,
                 confidence_threshold: Optional[float] = None) -> None:
        super().__init__(confidence_threshold)
        if directions not in ('diagonal', 'axis', 'diagonal3d'):
            raise ValueError(f"directions must be 'diagonal', 'axis' or 'diagonal3d', "
                             f'got {directions!r}')
        max_crops = {'diagonal': 4, 'axis': 4, 'diagonal3d': 8}[directions]
        if not 1 <= num_crops <= max_crops:
            raise ValueError(f'num_crops must be in [1, {max_crops}] for directions='
                             f'{directions!r}, got {num_crops}')
        bad = [a for a in shift_axes if a not in _AXES]
        if bad or not shift_axes:
            raise ValueError(f"shift_axes must be a non-empty subset of ('d', 'h', 'w'), "
                             f'got {shift_axes}')
        if directions == 'diagonal3d' and len(set(shift_axes)) != 3:
            raise ValueError("directions='diagonal3d' shifts all three axes: shift_axes must "
                             f"be ('d', 'h', 'w'), got {tuple(shift_axes)}")
        if not isinstance(shift_pad, bool):
            raise ValueError(f'shift_pad must be True or False, got {shift_pad!r}')
        try:  # the format now; fractions of P are resolved per call
            shift_magnitudes(shift_range, shift_axes, (16, 16, 16))
        except ValueError as e:
            raise ValueError(f'shift_range: {e}') from None
        if region not in ('intersection', 'union'):
            raise ValueError(f"region must be 'intersection' or 'union', got {region!r}")
        if fusion not in ('mean', 'vote'):
            raise ValueError(f"fusion must be 'mean' or 'vote', got {fusion!r}")
        self.directions = directions
        self.num_crops = num_crops
        self.shift_axes = shift_axis_indices(shift_axes)
        self.shift_range = shift_range
        self.shift_pad = shift_pad
        self.region = region
        self.fusion = fusion
        self.include_fixed = include_fixed

    def magnitude_ranges(self, fixed_size: Sequence[int]) -> list:
        """Resolve ``shift_range`` to three integer ``(lo, hi)`` pairs."""
        return list(shift_magnitudes(self.shift_range, self.shift_axes, fixed_size))

    def windows(self, context_mask: torch.Tensor, fixed_origin: Sequence[int],
                fixed_size: Sequence[int],
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        ranges = self.magnitude_ranges(fixed_size)
        if self.shift_pad:
            room = torch.tensor(region_room(context_mask.shape[2:], fixed_origin, fixed_size),
                                dtype=torch.long).expand(context_mask.shape[0], 3, 2)
        else:
            room = context_room(context_mask.cpu(), fixed_origin, fixed_size)
        max_shift = [max(hi, 0) for _, hi in ranges]
        shifts = sample_shifts(
            context_mask.shape[0], max_shift, directions=self.directions,
            num_crops=self.num_crops, magnitude=ranges, generator=generator, room=room)
        return shifts + torch.as_tensor(fixed_origin, dtype=torch.long).view(1, 1, 3)

    def label(self, fixed_probs: torch.Tensor, window_probs: torch.Tensor,
              origins: torch.Tensor, fixed_origin: Sequence[int]) -> PseudoLabel:
        fixed = class_argmax(fixed_probs, 1)
        shifts = origins.to(fixed_probs.device) - torch.as_tensor(
            fixed_origin, device=fixed_probs.device).view(1, 1, 3)
        aligned, valid = shift_into_frame(window_probs, shifts)
        region = overlap_region(valid, mode=self.region)
        temp, temp_probs = fuse_temporary(
            aligned, valid, mode=self.fusion,
            fixed_probs=fixed_probs if self.include_fixed else None)
        labels = com_merge(fixed, temp, region)
        probs = torch.where(region[:, None], temp_probs, fixed_probs)
        weights = self.confidence_weights(probs, labels)
        stats = dict(region=float(region.float().mean()),
                     changed=float((labels != fixed).float().mean()))
        for axis in self.shift_axes:
            applied = shifts[..., axis].abs().float()
            stats[f'shift_{"dhw"[axis]}'] = float(applied.mean()) if applied.numel() else 0.0
        if weights is not None:
            stats['kept'] = float(weights.mean())
        return PseudoLabel(labels=labels, weights=weights, probs=probs, stats=stats)
