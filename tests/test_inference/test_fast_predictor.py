import pytest
import torch
import torch.nn as nn

from fdpl.inference import fast_predictor, sliding_window_inference
from fdpl.models.backbones import VNet


def _vnet(seed=0, channels=4):
    """A small V-Net whose BatchNorm layers carry non-trivial statistics."""
    torch.manual_seed(seed)
    net = VNet(base_channels=channels)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)
    return net.eval()


def _n_bn(net):
    return sum(isinstance(m, nn.BatchNorm3d) for m in net.modules())


@pytest.mark.parametrize('fold_bn,channels_last', [(True, True), (True, False), (False, True)])
def test_same_outputs_and_everything_restored(fold_bn, channels_last):
    net = _vnet()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    params = list(net.parameters())
    x = torch.randn(2, 1, 16, 32, 48)
    with torch.no_grad():
        ref = net(x)
        with fast_predictor(net, fold_bn=fold_bn, channels_last=channels_last) as same:
            assert same is net
            assert _n_bn(net) == (0 if fold_bn else 29)
            conv = net.encoders[1][0].conv  # 8 input channels: the layouts differ
            assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d) \
                == channels_last
            out = net(x)
        after = net(x)
    assert torch.allclose(out, ref, atol=1e-5, rtol=1e-5)
    assert torch.equal(after, ref)
    assert _n_bn(net) == 29
    assert list(net.parameters()) == params  # the same Parameter objects
    assert all(p.is_contiguous() for p in net.parameters())
    assert net.state_dict().keys() == state.keys()
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())


def test_restores_on_error_and_leaves_training_bn_alone():
    net = _vnet()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(RuntimeError, match='boom'):
        with fast_predictor(net):
            assert _n_bn(net) == 0
            raise RuntimeError('boom')
    assert _n_bn(net) == 29
    assert all(torch.equal(net.state_dict()[k], v) for k, v in state.items())
    net.train()  # BN uses batch statistics: nothing may be folded
    with fast_predictor(net, channels_last=False):
        assert _n_bn(net) == 29


def test_folds_transposed_convs_and_convs_without_bias():
    from mmcv.cnn import ConvModule
    torch.manual_seed(1)
    block = nn.Sequential(
        ConvModule(2, 3, 3, padding=1, bias=False, conv_cfg=dict(type='Conv3d'),
                   norm_cfg=dict(type='BN3d')),
        ConvModule(3, 4, 2, stride=2, conv_cfg=dict(type='deconv3d'), norm_cfg=dict(type='BN3d')))
    for m in block.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    block.eval()
    x = torch.randn(1, 2, 6, 6, 6)
    with torch.no_grad():
        ref = block(x)
        with fast_predictor(block):
            assert block[0].conv.bias is not None and _n_bn(block) == 0
            out = block(x)
    assert torch.allclose(out, ref, atol=1e-5)
    assert block[0].conv.bias is None and 'conv.bias' not in block[0].state_dict()
    assert _n_bn(block) == 2


def test_sliding_window_labels_unchanged():
    net = _vnet(seed=3)
    x = torch.randn(1, 1, 40, 40, 56)
    with torch.no_grad():
        ref = sliding_window_inference(x, net, (32, 32, 32), mode='gaussian', sw_batch_size=1)
        with fast_predictor(net):
            fast = sliding_window_inference(x, net, (32, 32, 32), mode='gaussian',
                                            sw_batch_size=4)
    assert torch.allclose(fast, ref, atol=1e-5)
    assert torch.equal(fast.argmax(1), ref.argmax(1))
