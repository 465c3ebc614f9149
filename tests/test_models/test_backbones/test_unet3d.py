import math

import pytest
import torch
import torch.nn as nn

import fdpl.models.backbones  # noqa: F401  (registers the backbones)
from fdpl.models.backbones import UNet3D, VNet
from fdpl.registry import MODELS


def _num_trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_param_count_ssl4mis_unet3d():
    net = MODELS.build(dict(type='UNet3D', in_channels=1, num_classes=2))
    assert isinstance(net, UNet3D)
    assert _num_trainable(net) == 5_884_050
    # instance norm without affine parameters and without running statistics
    norms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm3d)]
    assert len(norms) == 18
    assert all(m.weight is None and not m.track_running_stats for m in norms)


def test_layout():
    net = UNet3D()
    assert [s[0].conv.in_channels for s in net.encoders] == [1, 16, 32, 64, 128]
    assert [s[1].conv.out_channels for s in net.encoders] == [16, 32, 64, 128, 256]
    # concatenation [skip, upsampled]
    assert [s[0].conv.in_channels for s in net.decoders] == [384, 192, 96, 48]
    assert [s[1].conv.out_channels for s in net.decoders] == [128, 64, 32, 16]
    assert all(len(s) == 2 for s in list(net.encoders) + list(net.decoders))
    assert isinstance(net.dropout, nn.Dropout) and net.dropout.p == 0.3
    assert net.conv_seg.kernel_size == (1, 1, 1)


def test_forward_shape():
    torch.manual_seed(0)
    net = UNet3D(in_channels=4, num_classes=3, base_channels=4)
    out = net(torch.randn(1, 4, 16, 16, 32))
    assert out.shape == (1, 3, 16, 16, 32)
    out.mean().backward()
    assert net.conv_seg.weight.grad is not None


def test_kaiming_init():
    torch.manual_seed(0)
    net = UNet3D()
    conv = net.encoders[4][1].conv  # 256 -> 256, fan_in = 256 * 27
    std = math.sqrt(2.0 / conv.weight[0].numel())
    assert abs(conv.weight.std().item() / std - 1) < 0.02
    # biases keep PyTorch's default (uniform +-1/sqrt(fan_in), not zero)
    assert 0 < conv.bias.abs().max() <= 1 / math.sqrt(conv.weight[0].numel())
    net = UNet3D(norm_cfg=dict(type='BN3d'))
    bn = net.encoders[0][0].norm
    assert torch.all(bn.bias == 0) and abs(bn.weight.mean().item() - 1) < 0.02


def test_dropout_on_off():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 16, 16, 16)
    net = UNet3D(base_channels=4, norm_cfg=None, dropout_ratio=0.5)
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
    net = UNet3D(base_channels=4, norm_cfg=None, with_dropout=False).train()
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


def test_norm_none_and_configurable():
    net = UNet3D(norm_cfg=None)
    assert not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in net.modules())
    assert _num_trainable(net) == 5_884_050  # the default norm has no parameters
    net = UNet3D(norm_cfg=dict(type='BN3d'), act_cfg=dict(type='LeakyReLU'))
    assert isinstance(net.encoders[0][0].norm, nn.BatchNorm3d)
    assert isinstance(net.encoders[0][0].activate, nn.LeakyReLU)
    bn_params = 2 * 2 * (16 + 32 + 64 + 128 + 256 + 128 + 64 + 32 + 16)  # 2 BN per stage
    assert _num_trainable(net) == 5_884_050 + bn_params


def test_bad_input():
    net = UNet3D()
    with pytest.raises(ValueError, match='divisible by 16'):
        net(torch.zeros(1, 1, 16, 32, 20))
    with pytest.raises(ValueError, match='in_channels=1'):
        net(torch.zeros(1, 2, 16, 16, 16))


def test_swap_backbones_via_registry():
    x = torch.randn(1, 1, 16, 16, 32)
    for cfg in (dict(type='VNet'), dict(type='UNet3D')):
        net = MODELS.build(dict(cfg, in_channels=1, num_classes=2, base_channels=4))
        with torch.no_grad():
            assert net.eval()(x).shape == (1, 2, 16, 16, 32)
    assert isinstance(MODELS.build(dict(type='VNet')), VNet)
