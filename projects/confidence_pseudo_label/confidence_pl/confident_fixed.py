"""Fixed pseudo-label whose voxels weigh by the teacher's confidence."""
from typing import Sequence

import torch

from fdpl.pseudo_labels import BasePseudoLabeler, PseudoLabel
from fdpl.registry import PSEUDO_LABELERS

MODES = ('soft', 'hard')


@PSEUDO_LABELERS.register_module()
class ConfidenceWeightedPseudoLabel(BasePseudoLabeler):
    """The fixed pseudo-label, with a voxel weight from the teacher's confidence.

    Labels are those of :class:`~fdpl.pseudo_labels.FixedPseudoLabel`,
    ``y(v) = argmax_c P_f(v, c)`` on the fixed crop (no extra window). Each
    voxel also gets a weight from its confidence ``q(v) = max_c P_f(v, c)``,
    which lies in ``[1/K, 1]`` for ``K`` classes:

    * ``mode='soft'``: ``w(v) = max(min_weight, r(v) ** power)`` with
      ``r(v) = (q(v) - 1/K) / (1 - 1/K)``, the confidence rescaled to
      ``[0, 1]`` (0 for a uniform prediction, 1 for a certain one; for two
      classes ``r = 2 q - 1``);
    * ``mode='hard'``: ``w(v) = 1`` if ``q(v) >= threshold`` else 0.

    The weights reach the loss as ``w_<name>_<i>`` (the hook mixes them with
    the CUT masks like the labels). fdpl's ``CEDiceLoss`` takes a weighted
    mean, so the weights decide how much each voxel counts *within* the
    term; the term's overall factor stays
    ``model.semi_train_cfg.unsup_weights[<name>]``
    times the scheduled weight. A batch whose weights are all 0 contributes
    exactly 0.

    Logged statistics (``pl_<name><i>_<key>`` in the training log): ``wmean``
    (mean weight) and ``kept`` (fraction of voxels with a weight above 0).

    Args:
        mode (str): ``'soft'`` (rescaled confidence) or ``'hard'``
            (threshold). Defaults to ``'soft'``.
        power (float): Exponent of the soft weight; above 1 favours confident
            voxels more. Defaults to 1.0.
        min_weight (float): Floor of the soft weight in ``[0, 1)``.
            Defaults to 0.0.
        threshold (float): Confidence threshold of the hard mode, in
            ``(0, 1)``. Defaults to 0.9.

    Example:
        >>> strategy = ConfidenceWeightedPseudoLabel(mode='soft')
        >>> probs = torch.tensor([0.5, 0.75, 1.0]).view(1, 1, 1, 1, 3)
        >>> probs = torch.cat([1 - probs, probs], dim=1)  # (B, K, d, h, w)
        >>> no_windows = probs[:, None][:, :0]  # (B, 0, K, d, h, w)
        >>> out = strategy.label(probs, no_windows, torch.zeros(1, 0, 3), (0, 0, 0))
        >>> out.labels.tolist(), out.weights.tolist()
        ([[[[0, 1, 1]]]], [[[[0.0, 0.5, 1.0]]]])
    """

    def __init__(self, mode: str = 'soft', power: float = 1.0, min_weight: float = 0.0,
                 threshold: float = 0.9) -> None:
        if mode not in MODES:
            raise ValueError(f'ConfidenceWeightedPseudoLabel: mode must be one of {MODES}, '
                             f'got {mode!r}')
        if not power > 0:
            raise ValueError(f'ConfidenceWeightedPseudoLabel: power must be > 0, got {power}')
        if not 0.0 <= min_weight < 1.0:
            raise ValueError('ConfidenceWeightedPseudoLabel: min_weight must be in [0, 1), '
                             f'got {min_weight}')
        if not 0.0 < threshold < 1.0:
            raise ValueError('ConfidenceWeightedPseudoLabel: threshold must be in (0, 1), '
                             f'got {threshold}')
        # the base class's hard mask serves the 'hard' mode
        super().__init__(confidence_threshold=threshold if mode == 'hard' else None)
        self.mode = mode
        self.power = float(power)
        self.min_weight = float(min_weight)
        self.threshold = float(threshold)

    def soft_weights(self, probs: torch.Tensor) -> torch.Tensor:
        """Rescaled confidence of each voxel.

        Args:
            probs (Tensor): ``(B, K, d, h, w)`` probabilities, softmax over K.

        Returns:
            Tensor: ``(B, d, h, w)`` float weights in ``[min_weight, 1]``.
        """
        k = probs.shape[1]
        conf = probs.max(dim=1).values.float()
        rescaled = ((conf - 1.0 / k) / (1.0 - 1.0 / k)).clamp(0.0, 1.0)
        return rescaled.pow(self.power).clamp_min(self.min_weight)

    def label(self, fixed_probs: torch.Tensor, window_probs: torch.Tensor,
              origins: torch.Tensor, fixed_origin: Sequence[int]) -> PseudoLabel:
        """Labels and confidence weights of the fixed crops.

        Args:
            fixed_probs (Tensor): ``(B, K, d, h, w)`` teacher probabilities
                on the fixed crops.
            window_probs (Tensor): ``(B, 0, K, d, h, w)``, unused (no extra
                window is asked for).
            origins (Tensor): ``(B, 0, 3)``, unused.
            fixed_origin (sequence[int]): Unused.

        Returns:
            PseudoLabel: ``labels`` ``(B, d, h, w)`` int64, ``weights``
            ``(B, d, h, w)`` float32, ``probs`` = ``fixed_probs`` and the
            statistics ``wmean`` and ``kept``.
        """
        labels = fixed_probs.argmax(dim=1)
        if self.mode == 'hard':
            weights = self.confidence_weights(fixed_probs, labels)
        else:
            weights = self.soft_weights(fixed_probs)
        weights = weights.float()
        stats = dict(wmean=float(weights.mean()), kept=float((weights > 0).float().mean()))
        return PseudoLabel(labels=labels, weights=weights, probs=fixed_probs, stats=stats)
