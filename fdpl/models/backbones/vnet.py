"""The V-Net used by semi-supervised left-atrium segmentation work.

This is the plain variant found in the field's code bases (UA-MT, DTC,
MC-Net, SS-Net, BCP, ...): no residual connections inside a stage, encoder
features are *added* to the decoder features, and dropout sits on the
bottleneck and on the last decoder stage.
"""
import warnings
from typing import Dict, List, Optional, Union

import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.model import BaseModule
from torch import Tensor

from fdpl.registry import MODELS
from ._input_check import check_volume_input

#: Number of 3x3x3 conv blocks of the five encoder stages.
_ENCODER_DEPTHS = (1, 2, 3, 3, 3)
#: Number of 3x3x3 conv blocks of the four decoder stages (deepest first).
_DECODER_DEPTHS = (3, 3, 2, 1)


def _conv_module(in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int, conv_type: str, norm_cfg: Optional[Dict],
                 act_cfg: Optional[Dict]) -> ConvModule:
    """Build ``conv -> norm -> act`` with a conv bias, as the field does.

    The field keeps the conv bias even in front of a normalisation layer;
    the parameter count depends on it, so mmcv's warning about that bias is
    silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Unnecessary conv bias')
        return ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            bias=True,
            conv_cfg=dict(type=conv_type),
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)


@MODELS.register_module()
class VNet(BaseModule):
    """V-Net of the semi-supervised medical segmentation literature.

    Layout for ``base_channels = c`` (sizes for an input side ``S``)::

        enc1  1 conv block   in -> c      S
        down1 conv k2 s2     c  -> 2c     S/2    enc2  2 blocks  2c
        down2                2c -> 4c     S/4    enc3  3 blocks  4c
        down3                4c -> 8c     S/8    enc4  3 blocks  8c
        down4                8c -> 16c    S/16   enc5  3 blocks  16c (+ dropout)
        up1   deconv k2 s2   16c -> 8c, + enc4   dec6  3 blocks  8c
        up2                  8c -> 4c,  + enc3   dec7  3 blocks  4c
        up3                  4c -> 2c,  + enc2   dec8  2 blocks  2c
        up4                  2c -> c,   + enc1   dec9  1 block   c (+ dropout)
        head  conv 1x1x1     c -> num_classes

    A conv block is ``Conv3d(3x3x3, padding 1) -> norm -> act``; down and up
    sampling layers are followed by the same norm and activation. All convs
    carry a bias. Parameters keep PyTorch's default initialisation. With
    ``c = 16``, one input channel, two classes and ``BN3d`` the network has
    9,448,866 trainable parameters (9,443,266 with ``norm_cfg=None``).

    Args:
        in_channels (int): Number of input channels ``C``. Defaults to 1.
        num_classes (int): Number of output classes ``K``. Defaults to 2.
        base_channels (int): Channels of the first stage; doubled at every
            down-sampling step. Defaults to 16.
        norm_cfg (dict, optional): Config of the normalisation layers
            (mmcv's ``build_norm_layer``), e.g. ``dict(type='BN3d')``,
            ``dict(type='GN', num_groups=16)`` or ``dict(type='IN3d')``.
            ``None`` disables normalisation. Defaults to ``dict(type='BN3d')``.
        act_cfg (dict, optional): Config of the activation layers; ``None``
            disables them. Defaults to ``dict(type='ReLU', inplace=True)``.
        dropout_ratio (float): Probability of ``nn.Dropout3d``. Defaults to
            0.5.
        with_dropout (bool): Whether to apply dropout on the bottleneck
            output and on the last decoder stage output (only active in
            training mode). Defaults to True.
        init_cfg (dict | list[dict], optional): mmengine initialisation
            config; ``None`` keeps PyTorch's default initialisation.
            Defaults to None.

    Examples:
        >>> net = VNet(in_channels=1, num_classes=2)
        >>> net.eval()(torch.zeros(1, 1, 16, 32, 32)).shape
        torch.Size([1, 2, 16, 32, 32])
    """

    #: Input sides must be multiples of this (four stride-2 steps).
    size_divisor = 16

    def __init__(self,
                 in_channels: int = 1,
                 num_classes: int = 2,
                 base_channels: int = 16,
                 norm_cfg: Optional[Dict] = dict(type='BN3d'),
                 act_cfg: Optional[Dict] = dict(type='ReLU', inplace=True),
                 dropout_ratio: float = 0.5,
                 with_dropout: bool = True,
                 init_cfg: Optional[Union[Dict, List[Dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels), ('num_classes', num_classes),
                            ('base_channels', base_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'VNet: {name} must be a positive int, got {value!r}')
        if not 0.0 <= dropout_ratio <= 1.0:
            raise ValueError(f'VNet: dropout_ratio must be in [0, 1], got {dropout_ratio}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.base_channels = base_channels
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.dropout_ratio = dropout_ratio
        self.with_dropout = with_dropout

        channels = [base_channels * 2**i for i in range(len(_ENCODER_DEPTHS))]

        self.encoders = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        prev = in_channels
        for i, (depth, ch) in enumerate(zip(_ENCODER_DEPTHS, channels)):
            if i > 0:
                self.downsamples.append(
                    _conv_module(prev, ch, 2, 2, 0, 'Conv3d', norm_cfg, act_cfg))
                prev = ch
            self.encoders.append(self._make_stage(prev, ch, depth))
            prev = ch

        self.upsamples = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for depth, ch in zip(_DECODER_DEPTHS, reversed(channels[:-1])):
            self.upsamples.append(_conv_module(prev, ch, 2, 2, 0, 'deconv3d', norm_cfg, act_cfg))
            self.decoders.append(self._make_stage(ch, ch, depth))
            prev = ch

        self.dropout = nn.Dropout3d(p=dropout_ratio) if with_dropout else None
        self.conv_seg = build_conv_layer(
            dict(type='Conv3d'), base_channels, num_classes, kernel_size=1)
        self._reset_parameters()

    def _make_stage(self, in_channels: int, out_channels: int, depth: int) -> nn.Sequential:
        """``depth`` conv blocks (3x3x3, padding 1), the first one mapping
        ``in_channels`` to ``out_channels``."""
        return nn.Sequential(*[
            _conv_module(in_channels if i == 0 else out_channels, out_channels, 3, 1, 1,
                         'Conv3d', self.norm_cfg, self.act_cfg) for i in range(depth)
        ])

    def _reset_parameters(self) -> None:
        """Restore PyTorch's default initialisation of every layer.

        ``ConvModule`` applies Kaiming init on construction; the field's
        network does not.
        """
        for m in self.modules():
            if m is not self and hasattr(m, 'reset_parameters'):
                m.reset_parameters()

    def init_weights(self) -> None:
        """Initialise the weights.

        Without ``init_cfg`` every layer gets PyTorch's default
        initialisation again; otherwise mmengine's ``init_cfg`` handling is
        used.
        """
        if self.init_cfg is None:
            self._reset_parameters()
            self._is_init = True
        else:
            super().init_weights()

    def _check_input(self, x: Tensor) -> None:
        check_volume_input(x, 'VNet', self.in_channels, self.size_divisor)

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
                x = self.downsamples[i - 1](x)
            x = encoder(x)
            skips.append(x)
        if self.dropout is not None:
            x = self.dropout(x)
        for upsample, decoder, skip in zip(self.upsamples, self.decoders, reversed(skips[:-1])):
            x = decoder(upsample(x) + skip)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.conv_seg(x)
