"""Tests of ReferenceStatsTeacher: windows normalised with the reference batch's statistics.

In float64, so that equalities hold to rounding: this tiny random network amplifies float32
rounding of the statistics up to 1e-2 in its logits.
"""
import pytest
import torch
import torch.nn as nn

from fdpl.models.backbones import VNet
from fdpl.models.utils import ReferenceStatsTeacher, teacher_mode


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = VNet(base_channels=2).double()
    with torch.no_grad():  # running statistics that differ from any batch's
        for m in net.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    return net


def _x(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 1, 16, 16, 16, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def test_reference_pass_is_the_batch_statistics_pass():
    net, ref = _net(), _x(2, 0)
    with torch.no_grad(), teacher_mode(net, 'train_frozen'):
        expected = net(ref)
    with torch.inference_mode(), ReferenceStatsTeacher(net) as teacher:
        out = teacher.reference(ref)
        again = teacher(ref)  # a reference sample through the recorded statistics
        one = teacher(ref[1:])  # ... alone
    assert torch.allclose(out, expected, atol=1e-8)
    assert torch.allclose(again, expected, atol=1e-8)
    assert torch.allclose(one, expected[1:], atol=1e-8)


def test_windows_do_not_depend_on_their_company():
    net, ref, win = _net(1), _x(2, 0), _x(5, 1)
    with torch.no_grad(), ReferenceStatsTeacher(net) as teacher:
        teacher.reference(ref)
        together = teacher(win)
        alone = torch.cat([teacher(w[None]) for w in win])
        with_other = teacher(torch.cat([_x(3, 9) * 4, win]))[3:]
    assert torch.allclose(together, alone, atol=1e-8)
    assert torch.allclose(together, with_other, atol=1e-8)
    with torch.no_grad(), teacher_mode(net, 'train_frozen'):  # plain batch statistics differ
        assert not torch.allclose(net(torch.cat([ref, win]))[2:], together, atol=1e-3)


def test_state_restored_and_running_stats_untouched():
    net = _net()
    net.train()
    net.dropout.eval()  # a flag set by the caller survives
    flags = {n: m.training for n, m in net.named_modules()}
    buffers = {n: b for n, b in net.named_buffers()}
    values = {n: b.clone() for n, b in buffers.items()}
    with torch.inference_mode(), ReferenceStatsTeacher(net) as teacher:
        teacher.reference(_x(2, 0))
        teacher(_x(3, 1))
    assert {n: m.training for n, m in net.named_modules()} == flags
    for n, b in net.named_buffers():
        assert b is buffers[n] and torch.equal(b, values[n]), n  # same tensors, same values
        assert not b.is_inference()
    # the network still trains afterwards (no inference tensor left in it)
    net(_x(2, 2)).sum().backward()


def test_eval_and_train_modes():
    net, ref, win = _net(), _x(2, 0), _x(3, 1)
    with torch.no_grad():
        with teacher_mode(net, 'eval'):
            expected = net(win)
        with ReferenceStatsTeacher(net, 'eval') as teacher:
            assert not teacher.needs_reference
            assert torch.allclose(teacher(win), expected)  # no reference needed
    bn = next(m for m in net.modules() if isinstance(m, nn.BatchNorm3d))
    before = bn.running_mean.clone(), int(bn.num_batches_tracked)
    net.dropout = None  # deterministic output
    with torch.no_grad(), ReferenceStatsTeacher(net, 'train') as teacher:
        teacher.reference(ref)
        teacher(win)
        teacher(win)
    assert int(bn.num_batches_tracked) == before[1] + 1  # the reference pass only
    with torch.no_grad():
        conv = net.encoders[0][0].conv
        batch_mean = conv(ref).mean(dim=(0, 2, 3, 4))
    assert torch.allclose(bn.running_mean, 0.9 * before[0] + 0.1 * batch_mean, atol=1e-8)


def test_misuse():
    net = _net()
    with pytest.raises(ValueError, match='teacher mode'):
        ReferenceStatsTeacher(net, 'frozen')
    with pytest.raises(RuntimeError, match='context manager'):
        ReferenceStatsTeacher(net).reference(_x(2, 0))
    with torch.no_grad(), ReferenceStatsTeacher(net) as teacher:
        with pytest.raises(RuntimeError, match='reference'):
            teacher(_x(1, 0))
