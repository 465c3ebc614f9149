"""Segmentation losses."""
from .ce_dice_loss import CEDiceLoss
from .functional import dice_loss, weighted_cross_entropy

__all__ = ['CEDiceLoss', 'dice_loss', 'weighted_cross_entropy']
