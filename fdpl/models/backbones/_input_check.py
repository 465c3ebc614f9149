"""Input validation shared by the 3D backbones."""
import torch
from torch import Tensor


def check_volume_input(x: Tensor, name: str, in_channels: int, size_divisor: int) -> None:
    """Raise a ValueError naming the backbone unless ``x`` is a valid batch.

    Args:
        x (Tensor): Expected ``(B, C, D, H, W)`` with ``C == in_channels`` and
            every spatial side divisible by ``size_divisor``.
        name (str): Backbone name used in the message.
        in_channels (int): Expected channel count.
        size_divisor (int): Required divisor of ``D``, ``H`` and ``W``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 5:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f'{name} expects an input of shape (B, C, D, H, W), got {shape}')
    if x.shape[1] != in_channels:
        raise ValueError(f'{name} was built with in_channels={in_channels}, '
                         f'got an input of shape {tuple(x.shape)}')
    if any(s % size_divisor for s in x.shape[2:]):
        raise ValueError(f'{name} needs every spatial side (D, H, W) to be divisible by '
                         f'{size_divisor}, got an input of shape {tuple(x.shape)}')
