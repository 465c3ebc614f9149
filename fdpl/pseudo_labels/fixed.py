"""Fixed pseudo-label: the teacher's argmax on the fixed crop."""
from typing import Sequence

import torch

from fdpl.registry import PSEUDO_LABELERS
from .base import BasePseudoLabeler, PseudoLabel
from .functional import class_argmax


@PSEUDO_LABELERS.register_module()
class FixedPseudoLabel(BasePseudoLabeler):
    """``yhat^{u_f}(v) = argmax_c P_f(v, c)`` (METHOD.md 2.3).

    Needs no extra window. With ``confidence_threshold`` the voxels whose
    teacher probability is below it are masked out of the loss.
    """

    def label(self, fixed_probs: torch.Tensor, window_probs: torch.Tensor,
              origins: torch.Tensor, fixed_origin: Sequence[int]) -> PseudoLabel:
        labels = class_argmax(fixed_probs, 1)
        weights = self.confidence_weights(fixed_probs, labels)
        stats = {}
        if weights is not None:
            stats['kept'] = float(weights.mean())
        return PseudoLabel(labels=labels, weights=weights, probs=fixed_probs, stats=stats)
