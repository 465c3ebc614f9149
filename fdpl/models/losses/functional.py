"""Pure loss functions for volumetric segmentation.

Both functions reduce over the whole batch at once, as the field's training
scripts do (one Dice value per batch, not a mean of per-volume values).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def dice_loss(probs_fg: Tensor,
              target: Tensor,
              weight: Optional[Tensor] = None,
              smooth: float = 1e-5) -> Tensor:
    """Soft Dice loss with squared denominators over the whole batch.

    .. math::

        1 - \\frac{2 \\sum p g w + s}{\\sum p^2 w + \\sum g^2 w + s}

    where the sums run over every element of the batch.

    Args:
        probs_fg (Tensor): (N, ...) float probabilities of one class, e.g.
            ``softmax(logits)[:, 1]`` shaped (B, D, H, W).
        target (Tensor): (N, ...) binary mask of that class, same shape as
            ``probs_fg`` (bool, int or float with values in {0, 1}).
        weight (Tensor, optional): (N, ...) float voxel weights, same shape
            as ``probs_fg``; a weight of 0 removes a voxel. Defaults to None
            (all ones).
        smooth (float): Smoothing term ``s`` added to numerator and
            denominator. Defaults to 1e-5.

    Returns:
        Tensor: Scalar loss. With every weight 0 it is exactly 0 and still
        attached to the graph of ``probs_fg``.

    Raises:
        ValueError: If the shapes of ``probs_fg``, ``target`` and ``weight``
            differ.
    """
    if probs_fg.shape != target.shape:
        raise ValueError(f'dice_loss: probs_fg has shape {tuple(probs_fg.shape)} but target '
                         f'has shape {tuple(target.shape)}; they must match')
    target = target.to(probs_fg.dtype)
    if weight is None:
        intersect = torch.sum(probs_fg * target)
        probs_sum = torch.sum(probs_fg * probs_fg)
        target_sum = torch.sum(target * target)
    else:
        if weight.shape != probs_fg.shape:
            raise ValueError(f'dice_loss: weight has shape {tuple(weight.shape)} but probs_fg '
                             f'has shape {tuple(probs_fg.shape)}; they must match')
        weight = weight.to(probs_fg.dtype)
        intersect = torch.sum(probs_fg * target * weight)
        probs_sum = torch.sum(probs_fg * probs_fg * weight)
        target_sum = torch.sum(target * target * weight)
    return 1 - (2 * intersect + smooth) / (probs_sum + target_sum + smooth)


def weighted_cross_entropy(logits: Tensor,
                           target: Tensor,
                           weight: Optional[Tensor] = None,
                           eps: float = 1e-6) -> Tensor:
    """Voxel-weighted cross-entropy averaged over the batch.

    Without weights this is ``F.cross_entropy(logits, target)`` (mean over
    all voxels). With weights it is the weighted mean

    .. math::

        \\frac{\\sum_v w_v \\, \\mathrm{CE}_v}{\\max(\\sum_v w_v, \\varepsilon)}

    so binary weights average over the kept voxels only; a batch whose
    weights are all 0 gives exactly 0, still attached to the graph of
    ``logits`` (its gradient is 0).

    Args:
        logits (Tensor): (B, K, D, H, W) float logits (any number of spatial
            axes is accepted).
        target (Tensor): (B, D, H, W) int64 class indices in ``[0, K)``.
            Entries whose weight is 0 must still be valid indices.
        weight (Tensor, optional): (B, D, H, W) float voxel weights, non
            negative. Defaults to None.
        eps (float): Lower bound of the weight sum. Defaults to 1e-6.

    Returns:
        Tensor: Scalar loss.

    Raises:
        ValueError: If ``target`` or ``weight`` is not shaped like
            ``logits`` without its class axis.
    """
    expected = (logits.shape[0], ) + tuple(logits.shape[2:])
    if logits.dim() < 2 or tuple(target.shape) != expected:
        raise ValueError(f'weighted_cross_entropy: logits has shape {tuple(logits.shape)} '
                         f'(B, K, D, H, W) but target has shape {tuple(target.shape)}; '
                         f'expected target shape {expected}')
    if weight is None:
        return F.cross_entropy(logits, target.long())
    if tuple(weight.shape) != expected:
        raise ValueError(f'weighted_cross_entropy: weight has shape {tuple(weight.shape)}, '
                         f'expected {expected} to match logits {tuple(logits.shape)}')
    weight = weight.to(logits.dtype)
    ce = F.cross_entropy(logits, target.long(), reduction='none')
    return torch.sum(ce * weight) / torch.sum(weight).clamp_min(eps)
