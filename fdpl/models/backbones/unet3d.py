"""The 3D U-Net used for BraTS in semi-supervised segmentation work.

Same design as the ``unet_3D`` network of SSL4MIS (feature scale 4): two
conv blocks per level, max-pooling, trilinear up-sampling and concatenation
``[skip, upsampled]`` in the decoder, Kaiming initialisation.
"""
import warnings
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.model import BaseModule
from torch import Tensor

from fdpl.registry import MODELS
from ._input_check import check_volume_input

#: Number of resolution levels (the deepest one is the bottleneck).
_NUM_LEVELS = 5


def _conv_module(in_channels: int, out_channels: int, norm_cfg: Optional[Dict],
                 act_cfg: Optional[Dict]) -> ConvModule:
    """Build ``Conv3d(3x3x3, padding 1, bias) -> norm -> act``.

    The reference design keeps the conv bias in front of the instance norm;
    the parameter count depends on it, so mmcv's warning about that bias is
    silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Unnecessary conv bias')
        return ConvModule(
            in_channels,
            out_channels,
            3,
            stride=1,
            padding=1,
            bias=True,
            conv_cfg=dict(type='Conv3d'),
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)


@MODELS.register_module()
class UNet3D(BaseModule):
    """3D U-Net with concatenated skips (SSL4MIS ``unet_3D`` design).

    Layout for ``base_channels = c`` (filters ``c, 2c, 4c, 8c, 16c``)::

        enc1  2 blocks in -> c          S
        pool, enc2  2 blocks c  -> 2c   S/2
        pool, enc3  2 blocks 2c -> 4c   S/4
        pool, enc4  2 blocks 4c -> 8c   S/8
        pool, enc5  2 blocks 8c -> 16c  S/16, then dropout
        up x2 (trilinear), cat [enc4, up], 2 blocks 24c -> 8c
        up x2, cat [enc3, up], 2 blocks 12c -> 4c
        up x2, cat [enc2, up], 2 blocks 6c  -> 2c
        up x2, cat [enc1, up], 2 blocks 3c  -> c, then dropout
        head  conv 1x1x1 c -> num_classes

    A block is ``Conv3d(3x3x3, padding 1, bias) -> norm -> act``; the
    default norm is ``InstanceNorm3d`` without affine parameters. Pooling is
    ``MaxPool3d(2)``; up-sampling is trilinear with ``align_corners=False``.
    Dropout is ``nn.Dropout`` (element-wise). Conv weights are Kaiming-normal
    (``fan_in``, ReLU gain), conv biases keep PyTorch's default, affine norm
    weights are drawn from ``N(1, 0.02)`` with zero bias. With ``c = 16``,
    one input channel and two classes the network has 5,884,050 trainable
    parameters.

    Args:
        in_channels (int): Number of input channels ``C``. Defaults to 1.
        num_classes (int): Number of output classes ``K``. Defaults to 2.
        base_channels (int): Filters of the first level; doubled at every
            level. Defaults to 16.
        norm_cfg (dict, optional): Config of the normalisation layers
            (mmcv's ``build_norm_layer``); ``None`` disables normalisation.
            Defaults to ``dict(type='IN3d', affine=False)``.
        act_cfg (dict, optional): Config of the activation layers; ``None``
            disables them. Defaults to ``dict(type='ReLU', inplace=True)``.
        dropout_ratio (float): Probability of the two ``nn.Dropout``
            layers. Defaults to 0.3.
        with_dropout (bool): Whether to apply dropout after the bottleneck
            and before the output conv (only active in training mode).
            Defaults to True.
        init_cfg (dict | list[dict], optional): mmengine initialisation
            config; ``None`` uses the Kaiming scheme above. Defaults to None.

    Examples:
        >>> net = UNet3D(in_channels=4, num_classes=2)
        >>> net.eval()(torch.zeros(1, 4, 16, 32, 32)).shape
        torch.Size([1, 2, 16, 32, 32])
    """

    #: Input sides must be multiples of this (four pooling steps).
    size_divisor = 16

    def __init__(self,
                 in_channels: int = 1,
                 num_classes: int = 2,
                 base_channels: int = 16,
                 norm_cfg: Optional[Dict] = dict(type='IN3d', affine=False),
                 act_cfg: Optional[Dict] = dict(type='ReLU', inplace=True),
                 dropout_ratio: float = 0.3,
                 with_dropout: bool = True,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels), ('num_classes', num_classes),
                            ('base_channels', base_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'UNet3D: {name} must be a positive int, got {value!r}')
        if not 0.0 <= dropout_ratio <= 1.0:
            raise ValueError(f'UNet3D: dropout_ratio must be in [0, 1], got {dropout_ratio}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.base_channels = base_channels
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.dropout_ratio = dropout_ratio
        self.with_dropout = with_dropout

        channels = [base_channels * 2**i for i in range(_NUM_LEVELS)]
        self.encoders = nn.ModuleList()
        prev = in_channels
        for ch in channels:
            self.encoders.append(self._make_stage(prev, ch))
            prev = ch
        self.pool = nn.MaxPool3d(kernel_size=2)

        self.decoders = nn.ModuleList()
        for ch in reversed(channels[:-1]):
            self.decoders.append(self._make_stage(ch + prev, ch))
            prev = ch

        self.dropout = nn.Dropout(p=dropout_ratio) if with_dropout else None
        self.conv_seg = build_conv_layer(
            dict(type='Conv3d'), base_channels, num_classes, kernel_size=1)
        self._kaiming_init()

    def _make_stage(self, in_channels: int, out_channels: int) -> nn.Sequential:
        """Two conv blocks, the first mapping ``in_channels`` to
        ``out_channels``."""
        return nn.Sequential(
            _conv_module(in_channels, out_channels, self.norm_cfg, self.act_cfg),
            _conv_module(out_channels, out_channels, self.norm_cfg, self.act_cfg))

    def _kaiming_init(self) -> None:
        """Kaiming-normal conv weights (``fan_in``), ``N(1, 0.02)`` affine
        norm weights with zero bias; conv biases keep PyTorch's default."""
        for m in self.modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                m.reset_parameters()
                nn.init.kaiming_normal_(m.weight, a=0, mode='fan_in')
            elif isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)):
                m.reset_parameters()
                if getattr(m, 'weight', None) is not None:
                    nn.init.normal_(m.weight, 1.0, 0.02)
                if getattr(m, 'bias', None) is not None:
                    nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        """Initialise the weights.

        Without ``init_cfg`` the Kaiming scheme of the reference design is
        applied again; otherwise mmengine's ``init_cfg`` handling is used.
        """
        if self.init_cfg is None:
            self._kaiming_init()
            self._is_init = True
        else:
            super().init_weights()

    def _check_input(self, x: Tensor) -> None:
        check_volume_input(x, 'UNet3D', self.in_channels, self.size_divisor)

    def forward(self, x: Tensor) -> Tensor:
        """Segment a batch of volumes.

        Args:
            x (Tensor): (B, C, D, H, W) float input; every side of
                ``(D, H, W)`` divisible by 16.

        Returns:
            Tensor: (B, K, D, H, W) logits (no softmax).

        Raises:
            ValueError: If ``x`` is not 5D, has the wrong channel count or a
                spatial side not divisible by 16.
        """
        self._check_input(x)
        skips = []
        for i, encoder in enumerate(self.encoders):
            if i > 0:
                x = self.pool(x)
            x = encoder(x)
            skips.append(x)
        if self.dropout is not None:
            x = self.dropout(x)
        for decoder, skip in zip(self.decoders, reversed(skips[:-1])):
            up = F.interpolate(x, scale_factor=2, mode='trilinear', align_corners=False)
            x = decoder(torch.cat([skip, up], dim=1))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.conv_seg(x)
