"""The interface every pseudo-label strategy implements."""
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence

import torch

Teacher = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class PseudoLabel:
    """Output of a strategy for a batch of unlabeled fixed crops.

    Attributes:
        labels (Tensor): ``(B, d, h, w)`` int64 hard labels.
        weights (Tensor, optional): ``(B, d, h, w)`` float voxel weights of the
            loss (e.g. a confidence mask); None = all ones.
        probs (Tensor, optional): ``(B, K, d, h, w)`` the probabilities the
            labels were taken from (for monitoring and plugins).
        stats (dict): Scalar statistics to log (plain floats).
    """

    labels: torch.Tensor
    weights: Optional[torch.Tensor] = None
    probs: Optional[torch.Tensor] = None
    stats: Dict[str, float] = field(default_factory=dict)


class BasePseudoLabeler(metaclass=ABCMeta):
    """Base class of pseudo-label strategies (registry ``PSEUDO_LABELERS``).

    A strategy works in two phases so that a hook can run the teacher on
    the windows of *all* strategies and of the whole batch in as few
    forward passes as memory allows:

    1. :meth:`windows` says which extra windows of each unlabeled context
       region the strategy needs (their origins, in context coordinates).
    2. :meth:`label` turns the teacher's probabilities on the fixed crop and
       on those windows into hard labels (and optional voxel weights).

    A strategy never sees the runner, the student or any ground truth.
    :meth:`__call__` chains both phases with one teacher call, for use
    outside the hook and in tests.

    Args:
        confidence_threshold (float, optional): When set, voxels whose
            probability of the chosen class is below it get weight 0.
            Defaults to None (every voxel weighs 1).
    """

    def __init__(self, confidence_threshold: Optional[float] = None) -> None:
        if confidence_threshold is not None and not 0.0 < confidence_threshold < 1.0:
            raise ValueError(f'confidence_threshold must be in (0, 1), got {confidence_threshold}')
        self.confidence_threshold = confidence_threshold

    def windows(self, context_mask: torch.Tensor, fixed_origin: Sequence[int],
                fixed_size: Sequence[int],
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Origins of the extra windows the strategy needs.

        Args:
            context_mask (Tensor): ``(B, 1, D', H', W')``, 1 where the context
                region holds real image content.
            fixed_origin (sequence[int]): ``(d, h, w)`` origin of the fixed
                crop inside the context region.
            fixed_size (sequence[int]): ``(d, h, w)`` size of every window.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            Tensor: ``(B, K, 3)`` int64 window origins; ``K = 0`` (the
            default) when only the fixed crop is needed.
        """
        return torch.zeros(context_mask.shape[0], 0, 3, dtype=torch.long)

    @abstractmethod
    def label(self, fixed_probs: torch.Tensor, window_probs: torch.Tensor,
              origins: torch.Tensor, fixed_origin: Sequence[int]) -> PseudoLabel:
        """Make the pseudo-labels.

        Args:
            fixed_probs (Tensor): ``(B, K, d, h, w)`` teacher probabilities
                on the fixed crops.
            window_probs (Tensor): ``(B, N, K, d, h, w)`` teacher
                probabilities on the windows returned by :meth:`windows`.
            origins (Tensor): ``(B, N, 3)`` those windows' origins.
            fixed_origin (sequence[int]): Origin of the fixed crop.

        Returns:
            PseudoLabel: labels ``(B, d, h, w)`` in the fixed crop's frame.
        """

    def confidence_weights(self, probs: torch.Tensor,
                           labels: torch.Tensor) -> Optional[torch.Tensor]:
        """``(B, d, h, w)`` float mask of confident voxels, or None if off."""
        if self.confidence_threshold is None:
            return None
        conf = probs.gather(1, labels[:, None]).squeeze(1)
        return (conf >= self.confidence_threshold).float()

    @torch.no_grad()
    def __call__(self, teacher: Teacher, context: torch.Tensor, context_mask: torch.Tensor,
                 fixed_origin: Sequence[int], fixed_size: Sequence[int],
                 generator: Optional[torch.Generator] = None) -> PseudoLabel:
        """Both phases with a single teacher call.

        Args:
            teacher (callable): ``(N, C, d, h, w)`` -> probabilities
                ``(N, K, d, h, w)``.
            context (Tensor): ``(B, C, D', H', W')`` context regions.
            context_mask (Tensor): ``(B, 1, D', H', W')``.
            fixed_origin, fixed_size: ``(d, h, w)`` of the fixed crop.
            generator (torch.Generator, optional): Source of randomness.
        """
        from .functional import crop_windows
        b = context.shape[0]
        origins = self.windows(context_mask, fixed_origin, fixed_size, generator)
        fixed = torch.as_tensor(fixed_origin, dtype=torch.long).view(1, 1, 3).expand(b, 1, 3)
        all_origins = torch.cat([fixed, origins.to(fixed.device)], dim=1)
        crops = crop_windows(context, all_origins, tuple(fixed_size))  # (B, 1+N, C, d, h, w)
        n = all_origins.shape[1]
        probs = teacher(crops.flatten(0, 1))
        probs = probs.view(b, n, *probs.shape[1:])
        return self.label(probs[:, 0], probs[:, 1:], origins, fixed_origin)
