"""model.channels_last: 5D weights in channels-last layout, same numbers, loadable checkpoints."""
import pytest
import torch
from mmengine.registry import DefaultScope

from fdpl.models import SemiSupervisedSegmentor, SupervisedSegmentor
from fdpl.structures import VolSegDataSample, VoxelData

TINY_VNET = dict(type='VNet', base_channels=2)
SIZE = (16, 16, 16)

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(autouse=True)
def fdpl_scope():
    with DefaultScope.overwrite_default_scope('fdpl'):
        yield


def _five_d(model):
    return [p for p in model.parameters() if p.dim() == 5]


def _labeled(n=2):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, *SIZE, generator=g)
    samples = []
    for i in range(n):
        s = VolSegDataSample(metainfo=dict(case_id=f'c{i}', labeled=True))
        s.gt_sem_seg = VoxelData(data=(x[i:i + 1, 0] > 0.3).long())
        samples.append(s)
    return x, samples


def _pair(cls, **kwargs):
    torch.manual_seed(0)
    plain = cls(backbone=TINY_VNET, **kwargs)
    torch.manual_seed(0)
    fast = cls(backbone=TINY_VNET, channels_last=True, **kwargs)
    return plain, fast


def test_weights_layout_and_values():
    plain, fast = _pair(SupervisedSegmentor)
    assert _five_d(fast) and all(
        p.is_contiguous(memory_format=torch.channels_last_3d) for p in _five_d(fast))
    assert not all(p.is_contiguous(memory_format=torch.channels_last_3d)
                   for p in _five_d(plain))
    for (name, a), b in zip(plain.state_dict().items(), fast.state_dict().values()):
        assert torch.equal(a, b), name
    semi = SemiSupervisedSegmentor(backbone=TINY_VNET, channels_last=True)
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in _five_d(semi))


def test_same_loss_and_gradients_up_to_rounding():
    plain, fast = _pair(SupervisedSegmentor)
    x, samples = _labeled()
    losses = []
    for model in (plain, fast):
        model.train()
        torch.manual_seed(1)  # the same dropout masks
        loss = model.loss(x, samples)['loss_sup']
        loss.backward()
        losses.append(loss.detach())
    assert torch.allclose(losses[0], losses[1], atol=1e-5)
    for (name, a), b in zip(plain.named_parameters(), fast.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-4), name


def test_checkpoints_load_across_layouts():
    plain, fast = _pair(SupervisedSegmentor,
                        test_cfg=dict(patch_size=SIZE, stride=(8, 8, 8)))
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.01)
    plain.load_state_dict(fast.state_dict())
    other = SupervisedSegmentor(backbone=TINY_VNET, channels_last=True,
                                test_cfg=dict(patch_size=SIZE, stride=(8, 8, 8)))
    other.load_state_dict(plain.state_dict())
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in _five_d(other))
    vol = torch.randn(1, 1, 20, 24, 24)
    preds = [m.eval().predict(vol, [VolSegDataSample(metainfo=dict(case_id='v'))])[0]
             .pred_sem_seg.data for m in (plain, fast, other)]
    assert torch.equal(preds[0], preds[1]) and torch.equal(preds[1], preds[2])


def test_unknown_option_still_named():
    with pytest.raises(ValueError, match="did you mean 'channels_last'"):
        SemiSupervisedSegmentor(backbone=TINY_VNET, channel_last=True)
