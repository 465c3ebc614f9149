"""Supervised training-input noise; predicting with SN1, SN2 or their mean, and scoring them side by side.

Sub-networks are replaced by small modules whose outputs are known
functions of their input (as in ``test_segmentors.py``).
"""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from fdpl.models import (CEDiceLoss, SemiSupervisedSegmentor, SupervisedSegmentor,
                         VolSegDataPreprocessor)
from fdpl.models.segmentors.base import add_uniform_noise
from fdpl.structures import VolSegDataSample, VoxelData

SIZE = (4, 8, 8)
TINY_VNET = dict(type='VNet', base_channels=2)


@pytest.fixture(autouse=True)
def fdpl_scope():
    with DefaultScope.overwrite_default_scope('fdpl'):
        yield


class RecordingNet(nn.Module):
    """Logits ``(0, x)``; remembers every input and counts calls."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return torch.cat([torch.zeros_like(x[:, :1]), self.w * x[:, :1]], dim=1)


class LookupNet(nn.Module):
    """Foreground probability ``table[round(x)]``; counts its calls."""

    def __init__(self, table) -> None:
        super().__init__()
        self.register_buffer('table', torch.tensor(table, dtype=torch.float64))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        p1 = self.table[x[:, 0].round().long().clamp(0, len(self.table) - 1)].float()
        return torch.log(torch.stack([1 - p1, p1], dim=1))


def _labeled(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 1, *SIZE, generator=g)
    samples = []
    for i in range(2):
        s = VolSegDataSample(metainfo=dict(case_id=f'lab{i}'))
        s.gt_sem_seg = VoxelData(data=(x[i:i + 1, 0] > 0.5).long())
        samples.append(s)
    return x, samples


# ------------------------------------------------------------------ supervised noise


def test_supervised_noise_in_loss_only():
    model = SupervisedSegmentor(backbone=TINY_VNET, noise=0.3,
                                test_cfg=dict(patch_size=SIZE, stride=SIZE))
    model.backbone = RecordingNet()
    x, samples = _labeled()
    torch.manual_seed(7)
    losses = model(x, samples, mode='loss')
    seen = model.backbone.seen[-1]
    diff = seen - x
    assert 0 < diff.abs().max() <= 0.3 + 1e-6
    assert diff.abs().mean() > 0.1        # about 0.15 for U(-0.3, 0.3), not a few voxels
    torch.manual_seed(7)                  # the same draw as the shared helper's
    assert torch.equal(seen, add_uniform_noise(x, 0.3))
    target = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    expected = CEDiceLoss()(torch.cat([torch.zeros_like(seen), seen], 1), target)
    assert losses['loss_sup'].item() == pytest.approx(expected.item(), rel=1e-6)

    model.eval()
    model.predict(x[:1], [VolSegDataSample()])
    assert torch.equal(model.backbone.seen[-1], x[:1])      # predict: clean input
    model(x, mode='tensor')
    assert torch.equal(model.backbone.seen[-1], x)          # tensor mode: clean input
    model.train()
    model(x, samples, mode='loss')                          # training again: noisy
    assert not torch.equal(model.backbone.seen[-1], x)


def test_supervised_noise_off_by_default():
    model = SupervisedSegmentor(backbone=TINY_VNET)
    model.backbone = RecordingNet()
    x, samples = _labeled()
    model.loss(x, samples)
    assert torch.equal(model.backbone.seen[0], x)
    assert add_uniform_noise(x, 0.0) is x


# ------------------------------------------------------------------ predictors

# three regions along w, coded 0 / 1 / 2 in the image
P1_NET1 = [0.9, 0.4, 0.6]
P1_NET2 = [0.2, 0.7, 0.1]
EXPECTED = dict(net1=[1, 0, 1], net2=[0, 1, 0], mean=[1, 1, 0])  # mean: .55 .55 .35


def _region_volume(shape=(6, 10, 12)) -> torch.Tensor:
    x = torch.zeros(1, *shape)
    w = shape[2]
    x[..., w // 3:2 * w // 3] = 1
    x[..., 2 * w // 3:] = 2
    return x


@pytest.mark.parametrize('infer_with', ['net1', 'net2', 'mean'])
@pytest.mark.parametrize('whole', [False, True])
def test_predict_infer_with(infer_with, whole):
    model = SemiSupervisedSegmentor(
        backbone=TINY_VNET, infer_with=infer_with,
        test_cfg=dict(patch_size=SIZE, stride=(2, 4, 4), whole=whole, return_logits=True))
    model.net1, model.net2 = LookupNet(P1_NET1), LookupNet(P1_NET2)
    model.eval()
    vol = _region_volume()
    sample = VolSegDataSample(metainfo=dict(case_id='c'))
    sample.gt_sem_seg = VoxelData(data=torch.zeros(1, 6, 10, 12, dtype=torch.long))
    out = model.predict(vol[None], [sample])
    pred = out[0].pred_sem_seg.data
    assert pred.shape == (1, 6, 10, 12) and pred.dtype == torch.long
    expected = torch.tensor(EXPECTED[infer_with])[vol[0].long()]
    assert torch.equal(pred[0], expected)
    assert out[0].seg_logits.data.shape == (2, 6, 10, 12)
    # forward(mode='predict') is the same path
    again = model(vol[None], [VolSegDataSample()], mode='predict')
    assert torch.equal(again[0].pred_sem_seg.data, pred)


def test_predict_removes_batch_padding():
    model = SemiSupervisedSegmentor(backbone=TINY_VNET, infer_with='net1',
                                    test_cfg=dict(patch_size=SIZE, stride=(2, 4, 4)))
    model.net1 = LookupNet(P1_NET1)
    model.eval()
    vols = [_region_volume((6, 10, 12)), _region_volume((4, 8, 9))]
    samples = [VolSegDataSample(metainfo=dict(case_id=str(i))) for i in range(2)]
    batch = VolSegDataPreprocessor()(dict(inputs=vols, data_samples=samples))
    assert batch['inputs'].shape == (2, 1, 6, 10, 12)
    out = model.predict(batch['inputs'], batch['data_samples'])
    for vol, s in zip(vols, out):
        expected = torch.tensor(EXPECTED['net1'])[vol[0].long()]
        assert torch.equal(s.pred_sem_seg.data[0], expected)


def _semi(infer_with='net1', **test_cfg):
    model = SemiSupervisedSegmentor(
        backbone=TINY_VNET, infer_with=infer_with,
        test_cfg=dict(dict(patch_size=SIZE, stride=(2, 4, 4)), **test_cfg))
    model.net1, model.net2 = LookupNet(P1_NET1), LookupNet(P1_NET2)
    return model.eval()


@pytest.mark.parametrize('headline', ['net1', 'net2', 'mean'])
def test_every_predictor_from_one_pass_per_network(headline):
    vol = _region_volume()
    single = _semi('net1')
    single.predict(vol[None], [VolSegDataSample()])
    windows = single.net1.calls  # forwards of one sliding-window pass
    assert windows > 1 and single.net2.calls == 0

    model = _semi(headline, predictors=('net1', 'net2', 'mean'))
    out = model.predict(vol[None], [VolSegDataSample()])[0]
    for name, labels in EXPECTED.items():
        expected = torch.tensor(labels)[vol[0].long()]
        pred = out.get(f'pred_sem_seg_{name}').data
        assert pred.shape == (1, 6, 10, 12) and pred.dtype == torch.long
        assert torch.equal(pred[0], expected), name
    assert torch.equal(out.pred_sem_seg.data, out.get(f'pred_sem_seg_{headline}').data)
    # two passes, not three: the mean reuses the networks' probabilities
    assert (model.net1.calls, model.net2.calls) == (windows, windows)


def test_mean_of_passes_equals_pass_of_mean():
    torch.manual_seed(0)
    model = SemiSupervisedSegmentor(
        backbone=TINY_VNET, infer_with='mean',
        test_cfg=dict(patch_size=SIZE, stride=(2, 4, 4), return_logits=True)).eval()
    model.net1, model.net2 = nn.Conv3d(1, 2, 3, padding=1), nn.Conv3d(1, 2, 3, padding=1)
    vol = torch.randn(1, 1, 6, 10, 12)
    direct = model.predict(vol, [VolSegDataSample()])[0].seg_logits.data
    model.test_cfg['predictors'] = ('mean', )
    shared = model.predictor_probs(vol, ('mean', ))['mean'][0]
    assert torch.allclose(direct, shared, atol=1e-6)


def test_headline_only_predictor_and_bad_names():
    model = _semi('net2', predictors=('net1', ))
    out = model.predict(_region_volume()[None], [VolSegDataSample()])[0]
    assert 'pred_sem_seg_net1' in out and 'pred_sem_seg_net2' not in out
    assert model.headline_predictor == 'net2'
    with pytest.raises(ValueError, match='predictors'):
        _semi('net1', predictors=('net3', ))
    with pytest.raises(ValueError, match='one network'):
        SupervisedSegmentor(backbone=TINY_VNET, test_cfg=dict(predictors=('net1', )))
    assert SupervisedSegmentor(backbone=TINY_VNET).headline_predictor is None
