"""Segmentation networks: ``(B, C, D, H, W)`` volumes to ``(B, K, D, H, W)`` logits."""
from .unet3d import UNet3D
from .vnet import VNet

__all__ = ['VNet', 'UNet3D']
