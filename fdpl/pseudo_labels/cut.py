"""CUT: CutMix between pairs of unlabeled crops (the diversification)."""
from typing import Optional, Sequence, Tuple

import torch

from fdpl.registry import PSEUDO_LABELERS
from .functional import box_to_mask, cut_mix, cutmix_box, pair_partners


@PSEUDO_LABELERS.register_module()
class CutMix:
    """Draws CUT box masks and partners, and mixes tensors with them.

    ``x_p^cut = (1 - M) * x_p + M * x_q`` and symmetrically for ``q``
    (METHOD.md 2.5): the two members of a pair share one box, so the pair's
    mixed images are complementary. Images and pseudo-labels are mixed with
    the same masks. Which sub-networks see the mixed crops is the model's
    ``cut_students``.

    Args:
        beta (tuple[float, float]): Beta distribution of the kept fraction
            lambda; the box side is ``side * sqrt(1 - lambda)``.
            Defaults to (4, 4).
        full_depth (bool): In-plane box spanning all slices (default) or a
            3D cuboid.
        prob (float): Probability that a pair is mixed at all. Defaults to 1.
    """

    def __init__(self, beta: Tuple[float, float] = (4.0, 4.0), full_depth: bool = True,
                 prob: float = 1.0) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'CutMix prob must be in [0, 1], got {prob}')
        if min(beta) <= 0:
            raise ValueError(f'CutMix beta parameters must be positive, got {beta}')
        self.beta = tuple(beta)
        self.full_depth = full_depth
        self.prob = prob

    def draw(self, batch_size: int, size: Sequence[int],
             generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Masks and partners for a batch.

        Args:
            batch_size (int): Number of unlabeled crops (>= 2).
            size (sequence[int]): ``(d, h, w)`` crop size.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            tuple: masks ``(B, d, h, w)`` float (1 inside the box) and
            partners ``(B,)`` int64.
        """
        partners = pair_partners(batch_size, generator=generator)
        masks = torch.zeros(batch_size, *size)
        for b in range(batch_size):
            p = int(partners[b])
            if p < b and int(partners[p]) == b:  # second member of a pair
                masks[b] = masks[p]
                continue
            if self.prob < 1.0 and float(torch.rand(1, generator=generator)) >= self.prob:
                continue
            box = cutmix_box(tuple(size), generator=generator, beta=self.beta,
                             full_depth=self.full_depth)
            masks[b] = box_to_mask(box, tuple(size))
        return masks, partners

    @staticmethod
    def apply(x: torch.Tensor, masks: torch.Tensor, partners: torch.Tensor) -> torch.Tensor:
        """Mix ``x`` (``(B, ...)``, labels or images) with drawn masks."""
        return cut_mix(x, masks.to(x.device), partners.to(x.device))
