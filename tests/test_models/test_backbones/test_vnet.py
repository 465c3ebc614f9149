import math

import pytest
import torch
import torch.nn as nn

import fdpl.models.backbones  # noqa: F401  (registers the backbones)
from fdpl.models.backbones import VNet
from fdpl.registry import MODELS


def _num_trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_param_count_field_vnet():
    net = MODELS.build(dict(type='VNet', in_channels=1, num_classes=2, base_channels=16))
    assert isinstance(net, VNet)
    assert _num_trainable(net) == 9_448_866
    # BN running statistics are buffers, not parameters
    assert sum(b.numel() for b in net.buffers() if b.is_floating_point()) == 5_600


def test_param_count_without_norm():
    net = VNet(norm_cfg=None)
    assert _num_trainable(net) == 9_443_266
    assert not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in net.modules())


def test_stage_param_counts_match_protocol_table():
    net = VNet()
    enc = [_num_trainable(m) for m in net.encoders]
    down = [_num_trainable(m) for m in net.downsamples]
    up = [_num_trainable(m) for m in net.upsamples]
    dec = [_num_trainable(m) for m in net.decoders]
    assert enc == [480, 55_488, 332_352, 1_328_256, 5_310_720]
    assert down == [4_192, 16_576, 65_920, 262_912]
    assert up == [262_528, 65_728, 16_480, 4_144]
    assert dec == [1_328_256, 332_352, 55_488, 6_960]
    assert _num_trainable(net.conv_seg) == 34


def test_forward_shape_and_gradient():
    torch.manual_seed(0)
    net = VNet(in_channels=2, num_classes=3, base_channels=4)
    x = torch.randn(2, 2, 16, 16, 32)
    out = net(x)
    assert out.shape == (2, 3, 16, 16, 32)
    out.mean().backward()
    assert net.encoders[0][0].conv.weight.grad is not None


def test_blocks_and_layers():
    net = VNet()
    block = net.encoders[2][0]
    assert isinstance(block.conv, nn.Conv3d)
    assert block.conv.kernel_size == (3, 3, 3) and block.conv.padding == (1, 1, 1)
    assert block.conv.bias is not None
    assert isinstance(block.norm, nn.BatchNorm3d)
    assert isinstance(block.activate, nn.ReLU)
    assert [len(s) for s in net.encoders] == [1, 2, 3, 3, 3]
    assert [len(s) for s in net.decoders] == [3, 3, 2, 1]
    down, up = net.downsamples[0].conv, net.upsamples[0].conv
    assert isinstance(down, nn.Conv3d) and down.kernel_size == (2, 2, 2)
    assert down.stride == (2, 2, 2) and down.padding == (0, 0, 0)
    assert isinstance(up, nn.ConvTranspose3d) and up.kernel_size == (2, 2, 2)
    assert up.stride == (2, 2, 2)


def test_default_pytorch_init():
    torch.manual_seed(0)
    net = VNet()
    for m in net.modules():
        if isinstance(m, nn.Conv3d):
            # PyTorch's default: uniform in +-1/sqrt(fan_in) (weights and biases)
            fan_in = m.weight[0].numel()
            bound = 1 / math.sqrt(fan_in)
            assert m.weight.abs().max() <= bound + 1e-6
            assert m.bias.abs().max() <= bound + 1e-6
            assert m.bias.abs().sum() > 0  # not zeroed as mmcv's Kaiming init would do
        elif isinstance(m, nn.BatchNorm3d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    # init_weights() keeps the same scheme
    net.init_weights()
    conv = net.encoders[4][2].conv
    assert conv.weight.abs().max() <= 1 / math.sqrt(conv.weight[0].numel()) + 1e-6


def test_dropout_on_off():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 16, 16, 32)
    net = VNet(base_channels=4, norm_cfg=None, with_dropout=True)
    assert sum(isinstance(m, nn.Dropout3d) for m in net.modules()) == 1
    assert net.dropout.p == 0.5
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))

    net = VNet(base_channels=4, with_dropout=False)
    assert not any(isinstance(m, nn.Dropout3d) for m in net.modules())
    net.train()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


def test_dropout_ratio_and_act_cfg():
    net = VNet(dropout_ratio=0.2, act_cfg=dict(type='LeakyReLU', negative_slope=0.1))
    assert net.dropout.p == 0.2
    assert isinstance(net.encoders[0][0].activate, nn.LeakyReLU)
    with pytest.raises(ValueError, match='dropout_ratio'):
        VNet(dropout_ratio=1.5)


def test_other_norms():
    net = VNet(norm_cfg=dict(type='GN', num_groups=16))
    assert isinstance(net.encoders[0][0].norm, nn.GroupNorm)
    assert _num_trainable(net) == 9_448_866
    net = VNet(base_channels=4, norm_cfg=dict(type='IN3d')).eval()
    assert net(torch.randn(1, 1, 16, 16, 32)).shape == (1, 2, 16, 16, 32)


@pytest.mark.parametrize('shape', [(1, 1, 16, 32, 30), (1, 1, 8, 16, 16), (1, 1, 24, 32, 32)])
def test_bad_spatial_size(shape):
    net = VNet()
    with pytest.raises(ValueError, match='divisible by 16'):
        net(torch.zeros(shape))


def test_bad_input_dims_and_channels():
    net = VNet(in_channels=2)
    with pytest.raises(ValueError, match=r'\(B, C, D, H, W\)'):
        net(torch.zeros(2, 16, 16, 16))
    with pytest.raises(ValueError, match='in_channels=2'):
        net(torch.zeros(1, 1, 16, 16, 16))
    with pytest.raises(ValueError, match='num_classes'):
        VNet(num_classes=0)
