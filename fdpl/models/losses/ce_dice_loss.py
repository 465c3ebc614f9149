"""Cross-entropy plus soft Dice, the supervised loss of the field."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from fdpl.registry import MODELS
from .functional import dice_loss, weighted_cross_entropy


@MODELS.register_module()
class CEDiceLoss(nn.Module):
    """``loss_weight * (alpha * CE + (1 - alpha) * Dice)`` on logits.

    * CE is :func:`weighted_cross_entropy` (mean over voxels, or the
      weighted mean when voxel weights are given).
    * Dice is :func:`dice_loss` (squared denominators, one value for the
      whole batch) on softmax probabilities. With two classes it is computed
      on the foreground channel only, exactly as the field does; with more
      classes it is the mean over the foreground classes ``1 .. K-1``.

    Voxels whose weight is 0 or whose label equals ``ignore_index`` do not
    contribute to either term. The field's loss is ``alpha=0.5``.

    Args:
        alpha (float): Weight of the CE term in ``[0, 1]``; Dice gets
            ``1 - alpha``. Defaults to 0.5.
        loss_weight (float): Factor applied to the sum. Defaults to 1.0.
        num_classes (int): Number of classes ``K`` (>= 2) the logits must
            have. Defaults to 2.
        ignore_index (int, optional): Label value to ignore. Defaults to
            None (every label must lie in ``[0, K)``).
        smooth (float): Smoothing term of the Dice loss. Defaults to 1e-5.
        loss_name (str): Name of the loss in the log. Defaults to
            ``'loss_ce_dice'``.

    Examples:
        >>> loss = CEDiceLoss(alpha=0.5)
        >>> logits = torch.randn(2, 2, 16, 16, 16)
        >>> target = torch.randint(0, 2, (2, 16, 16, 16))
        >>> loss(logits, target).shape
        torch.Size([])
    """

    def __init__(self,
                 alpha: float = 0.5,
                 loss_weight: float = 1.0,
                 num_classes: int = 2,
                 ignore_index: Optional[int] = None,
                 smooth: float = 1e-5,
                 loss_name: str = 'loss_ce_dice') -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'CEDiceLoss: alpha must be in [0, 1], got {alpha}')
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f'CEDiceLoss: num_classes must be an int >= 2, got {num_classes!r}')
        self.alpha = alpha
        self.loss_weight = loss_weight
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.smooth = smooth
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss item in the log, e.g. ``'loss_ce_dice'``."""
        return self._loss_name

    def _check_inputs(self, logits: Tensor, target: Tensor, weight: Optional[Tensor]) -> None:
        if logits.dim() != 5 or logits.shape[1] != self.num_classes:
            raise ValueError(f'CEDiceLoss: logits must have shape (B, K={self.num_classes}, '
                             f'D, H, W), got {tuple(logits.shape)}')
        expected = (logits.shape[0], ) + tuple(logits.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(f'CEDiceLoss: target has shape {tuple(target.shape)} but logits '
                             f'have shape {tuple(logits.shape)}; expected target shape '
                             f'{expected} (B, D, H, W)')
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise ValueError(f'CEDiceLoss: target must hold integer class indices, got dtype '
                             f'{target.dtype}')
        if weight is not None and tuple(weight.shape) != expected:
            raise ValueError(f'CEDiceLoss: weight has shape {tuple(weight.shape)} but logits '
                             f'have shape {tuple(logits.shape)}; expected weight shape '
                             f'{expected} (B, D, H, W)')
        values = target if self.ignore_index is None else target[target != self.ignore_index]
        if values.numel() > 0:
            lo, hi = torch.aminmax(values)
            if lo.item() < 0 or hi.item() >= self.num_classes:
                raise ValueError(f'CEDiceLoss: target values must lie in [0, '
                                 f'{self.num_classes}), got min {lo.item()} and max '
                                 f'{hi.item()}' + ('' if self.ignore_index is None else
                                                   f' (ignore_index={self.ignore_index})'))

    def forward(self, logits: Tensor, target: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            logits (Tensor): (B, K, D, H, W) float logits.
            target (Tensor): (B, D, H, W) int64 labels in ``[0, K)`` (or
                ``ignore_index``).
            weight (Tensor, optional): (B, D, H, W) float voxel weights
                (e.g. a 0/1 confidence mask). Defaults to None.

        Returns:
            Tensor: Scalar loss.

        Raises:
            ValueError: On mismatched shapes, a wrong class count, a
                non-integer target or labels outside ``[0, K)``.
        """
        self._check_inputs(logits, target, weight)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # from autocast: the sums over voxels need float32
        target = target.long()
        if self.ignore_index is not None:
            valid = target != self.ignore_index
            target = target.masked_fill(~valid, 0)
            valid = valid.to(logits.dtype)
            weight = valid if weight is None else weight.to(logits.dtype) * valid

        loss = logits.new_zeros(())
        if self.alpha > 0:
            loss = loss + self.alpha * weighted_cross_entropy(logits, target, weight)
        if self.alpha < 1:
            probs = torch.softmax(logits, dim=1)
            dice = sum(
                dice_loss(probs[:, k], target == k, weight, self.smooth)
                for k in range(1, self.num_classes)) / (self.num_classes - 1)
            loss = loss + (1 - self.alpha) * dice
        return self.loss_weight * loss
