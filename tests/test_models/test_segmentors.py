"""Tests of the segmentors, the teacher mode and the data preprocessor.

The sub-networks are replaced by small hand-written modules whose logits
are a known function of their input, so every loss term can be recomputed
directly with :class:`CEDiceLoss`.
"""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from fdpl.datasets.transforms import Resample3D
from fdpl.models import (CEDiceLoss, SemiSupervisedSegmentor, SupervisedSegmentor,
                         VolSegDataPreprocessor)
from fdpl.models.utils import teacher_mode
from fdpl.structures import VolSegDataSample, VoxelData

SIZE = (4, 8, 8)  # fixed crop and labeled patch (d, h, w)
CONTEXT = (4, 12, 12)
ORIGIN = (0, 2, 2)
TINY_VNET = dict(type='VNet', base_channels=2)


@pytest.fixture(autouse=True)
def fdpl_scope():
    """Build components in the ``fdpl`` scope, as a config does."""
    with DefaultScope.overwrite_default_scope('fdpl'):
        yield


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class AffineNet(nn.Module):
    """Logits ``(0, scale * x + shift)``; remembers every input it saw.

    ``(B, 1, d, h, w)`` -> ``(B, 2, d, h, w)``, any spatial size.
    """

    def __init__(self, scale: float, shift: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        self.shift = nn.Parameter(torch.tensor(float(shift)))
        self.seen = []

    @staticmethod
    def logits(x: torch.Tensor, scale: float, shift: float) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x[:, :1]), scale * x[:, :1] + shift], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.logits(x, self.scale, self.shift)


NET1 = (2.0, -1.0)
NET2 = (-1.5, 0.5)


def _semi_model(**semi_train_cfg) -> SemiSupervisedSegmentor:
    model = SemiSupervisedSegmentor(backbone=TINY_VNET, semi_train_cfg=semi_train_cfg)
    model.net1 = AffineNet(*NET1)
    model.net2 = AffineNet(*NET2)
    return model


CUT_MASK = torch.zeros(SIZE)
CUT_MASK[:, 1:5, 2:7] = 1


def _two_stream_batch(seed: int = 0, pseudo_labels: bool = True):
    """Two labeled patches and two unlabeled context regions with labels.

    Returns:
        tuple: ``inputs`` (dict), ``data_samples`` (labeled first) and a
        dict of the tensors used (``x_l``, ``ctx``, ``gt``, pseudo-labels).
    """
    g = _gen(seed)
    x_l = torch.rand(2, 1, *SIZE, generator=g)
    ctx = torch.rand(2, 1, *CONTEXT, generator=g)
    gt = (x_l[:, 0] > 0.5).long()
    pl = {k: torch.randint(0, 2, (2, *SIZE), generator=g)
          for k in ('fix_1', 'dyn_1', 'fix_2', 'dyn_2')}
    samples = []
    for i in range(2):
        s = VolSegDataSample(metainfo=dict(case_id=f'lab{i}', labeled=True))
        s.gt_sem_seg = VoxelData(data=gt[i:i + 1])
        samples.append(s)
    for i in range(2):
        s = VolSegDataSample(metainfo=dict(case_id=f'unl{i}', labeled=False,
                                           fixed_origin=ORIGIN, fixed_size=SIZE))
        s.context_mask = VoxelData(data=torch.ones(1, *CONTEXT, dtype=torch.uint8))
        if pseudo_labels:
            fields = {k: v[i:i + 1] for k, v in pl.items()}
            s.pseudo_labels = VoxelData(cut_mask=CUT_MASK[None].clone(), **fields)
            s.set_metainfo(dict(cut_partner=1 - i))
        samples.append(s)
    return dict(labeled=x_l, unlabeled=ctx), samples, dict(x_l=x_l, ctx=ctx, gt=gt, **pl)


def _fixed(ctx: torch.Tensor) -> torch.Tensor:
    (o0, o1, o2), (s0, s1, s2) = ORIGIN, SIZE
    return ctx[:, :, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2]


def _cut(x_u: torch.Tensor) -> torch.Tensor:
    """The two fixed crops with each other's box content, by hand."""
    m = CUT_MASK
    return torch.stack([(1 - m) * x_u[0] + m * x_u[1], (1 - m) * x_u[1] + m * x_u[0]])


# ---------------------------------------------------------------- semi-supervised loss


def test_semi_loss_terms_equal_direct_computation():
    model = _semi_model(unsup_weights=dict(fix=1.0, dyn=0.5))
    model.unsup_weight = 0.7
    inputs, samples, t = _two_stream_batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_sup_1', 'loss_fix_1', 'loss_dyn_1', 'loss_sup_2', 'loss_fix_2',
                           'loss_dyn_2', 'unsup_w'}

    ce_dice = CEDiceLoss(alpha=0.5)
    x_u = _fixed(t['ctx'])
    in1 = torch.cat([t['x_l'], x_u])  # SN1 sees the clean fixed crops
    in2 = torch.cat([t['x_l'], _cut(x_u)])  # SN2 sees the CUT images (cut_students=(2,))
    assert len(model.net1.seen) == 1 and torch.equal(model.net1.seen[0], in1)
    assert len(model.net2.seen) == 1 and torch.equal(model.net2.seen[0], in2)
    for i, params, x in ((1, NET1, in1), (2, NET2, in2)):
        logits = AffineNet.logits(x, *params)
        expected = {
            f'loss_sup_{i}': ce_dice(logits[:2], t['gt']),
            f'loss_fix_{i}': 0.7 * 1.0 * ce_dice(logits[2:], t[f'fix_{i}']),
            f'loss_dyn_{i}': 0.7 * 0.5 * ce_dice(logits[2:], t[f'dyn_{i}']),
        }
        for key, value in expected.items():
            assert losses[key].item() == pytest.approx(value.item(), rel=1e-6, abs=1e-7), key
    assert losses['unsup_w'].item() == pytest.approx(0.7)


def test_semi_loss_without_unsup_weight_has_sup_terms_only():
    model = _semi_model()
    model.unsup_weight = 0.0
    inputs, samples, t = _two_stream_batch(pseudo_labels=False)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_sup_1', 'loss_sup_2', 'unsup_w'}
    clean = torch.cat([t['x_l'], _fixed(t['ctx'])])
    assert torch.equal(model.net1.seen[0], clean)
    assert torch.equal(model.net2.seen[0], clean)  # no CUT during the warm-up
    logits = AffineNet.logits(clean, *NET2)
    assert losses['loss_sup_2'].item() == pytest.approx(
        CEDiceLoss()(logits[:2], t['gt']).item(), rel=1e-6)


def test_semi_loss_missing_pseudo_labels_names_the_hook():
    model = _semi_model()
    model.unsup_weight = 0.5
    inputs, samples, _ = _two_stream_batch()
    del samples[3].pseudo_labels
    with pytest.raises(RuntimeError, match='PseudoLabelHook'):
        model.loss(inputs, samples)


@pytest.mark.parametrize('cut_students', [(), (1, ), (1, 2)])
def test_semi_loss_cut_students(cut_students):
    model = _semi_model(cut_students=cut_students)
    model.unsup_weight = 1.0
    inputs, samples, t = _two_stream_batch()
    model.loss(inputs, samples)
    x_u = _fixed(t['ctx'])
    for i, net in ((1, model.net1), (2, model.net2)):
        expected = _cut(x_u) if i in cut_students else x_u
        assert torch.equal(net.seen[0][2:], expected)
        assert torch.equal(net.seen[0][:2], t['x_l'])


def test_semi_loss_noise():
    inputs, samples, t = _two_stream_batch()
    clean = torch.cat([t['x_l'], _fixed(t['ctx'])])
    model = _semi_model(noise=0.1, cut_students=())
    model.unsup_weight = 1.0
    model.loss(inputs, samples)
    for net in model.nets:
        diff = net.seen[0] - clean
        assert diff.abs().max() <= 0.1 + 1e-6 and diff.abs().max() > 0
    assert not torch.equal(model.net1.seen[0], model.net2.seen[0])  # independent draws
    assert torch.equal(inputs['labeled'], t['x_l'])  # inputs not modified in place


def test_semi_loss_gradients_reach_only_their_network():
    model = _semi_model()
    model.unsup_weight = 1.0
    inputs, samples, _ = _two_stream_batch()
    for i in (1, 2):
        for term in ('sup', 'fix', 'dyn'):
            model.zero_grad(set_to_none=True)
            losses = model.loss(inputs, samples)
            losses[f'loss_{term}_{i}'].backward()
            own, peer = model.nets[i - 1], model.nets[2 - i]
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in own.parameters())
            assert all(p.grad is None for p in peer.parameters())


def test_semi_unsup_w_is_a_statistic_not_a_loss():
    model = _semi_model()
    model.unsup_weight = 0.25
    inputs, samples, _ = _two_stream_batch()
    losses = model.loss(inputs, samples)
    total, log_vars = model.parse_losses(losses)
    expected = sum(v for k, v in losses.items() if k.startswith('loss_'))
    assert total.item() == pytest.approx(expected.item(), rel=1e-6)
    assert log_vars['unsup_w'].item() == pytest.approx(0.25)
    assert log_vars['loss'].item() == pytest.approx(total.item())


def test_semi_voxel_weights_change_the_unsup_loss():
    model = _semi_model()
    model.unsup_weight = 0.5
    inputs, samples, t = _two_stream_batch()
    zero = torch.zeros(1, *SIZE)
    half = torch.zeros(1, *SIZE)
    half[..., :4] = 1.0
    for s in samples[2:]:
        s.pseudo_labels.w_fix_1 = zero.clone()
        s.pseudo_labels.w_dyn_2 = half.clone()
    losses = model.loss(inputs, samples)
    assert losses['loss_fix_1'].item() == 0.0
    assert losses['loss_fix_1'].requires_grad
    logits2 = AffineNet.logits(torch.cat([t['x_l'], _cut(_fixed(t['ctx']))]), *NET2)
    weight = half.expand(2, *SIZE)
    expected = 0.5 * CEDiceLoss()(logits2[2:], t['dyn_2'], weight)
    assert losses['loss_dyn_2'].item() == pytest.approx(expected.item(), rel=1e-6)
    unweighted = 0.5 * CEDiceLoss()(logits2[2:], t['dyn_2'])
    assert losses['loss_dyn_2'].item() != pytest.approx(unweighted.item(), rel=1e-6)


def test_semi_labeled_only_batch():
    model = _semi_model()
    _, samples, t = _two_stream_batch()
    losses = model.loss(t['x_l'], samples[:2])
    assert set(losses) == {'loss_sup_1', 'loss_sup_2'}
    expected = CEDiceLoss()(AffineNet.logits(t['x_l'], *NET1), t['gt'])
    assert losses['loss_sup_1'].item() == pytest.approx(expected.item(), rel=1e-6)


def test_semi_bad_options():
    with pytest.raises(ValueError, match='backbone'):
        SemiSupervisedSegmentor()
    with pytest.raises(ValueError, match='cut_students'):
        SemiSupervisedSegmentor(backbone=TINY_VNET, semi_train_cfg=dict(cut_students=(3, )))
    with pytest.raises(ValueError, match='infer_with'):
        SemiSupervisedSegmentor(backbone=TINY_VNET, infer_with='both')
    with pytest.raises(KeyError, match='test_cfg'):
        SemiSupervisedSegmentor(backbone=TINY_VNET, test_cfg=dict(patch=(4, 8, 8)))


@pytest.mark.parametrize('semi, message', [
    (dict(schedule=dict(rampup_iter=3)),
     "model.semi_train_cfg.schedule.rampup_iter is not an option; expected one of weight_max, "
     "warmup_iters, rampup_iters, rampup_step, ramp; did you mean 'rampup_iters'?"),
    (dict(weight_max=0.3), "model.semi_train_cfg.weight_max is not an option; expected one of "
     "strategies, shift, cut, cut_students, unsup_weights, schedule, confidence_threshold, "
     "teacher_mode, teacher_batch_size, noise; did you mean 'schedule.weight_max'?"),
    (dict(shift=dict(rnage=(4, 16))), "model.semi_train_cfg.shift.rnage is not an option; "
     "expected one of range, axes, pad; did you mean 'range'?"),
    (dict(unsup_weights=dict(dny=0.5)), 'model.semi_train_cfg.unsup_weights.dny is not an '
     "option; expected one of fix, dyn; did you mean 'dyn'?"),
    (dict(strategies=dict(dyn=dict(type='DynamicPseudoLabel', fuson='vote'))),
     'model.semi_train_cfg.strategies.dyn.fuson is not an option of DynamicPseudoLabel'),
    (dict(strategies=dict(dyn=dict(type='DynamicPseudoLabel', shift_range=(4, 16)))),
     'model.semi_train_cfg.strategies.dyn.shift_range is not read there: set '
     'model.semi_train_cfg.shift.range instead'),
    (dict(confidence_threshold=0.7, strategies=dict(fix=dict(type='FixedPseudoLabel',
                                                             confidence_threshold=0.6))),
     'are both set'),
    (dict(shift=dict(range=(5, 2))), 'model.semi_train_cfg.shift.range'),
    (dict(noise=-1.0), 'model.semi_train_cfg.noise'),
])
def test_semi_train_cfg_unknown_or_bad_option_is_named(semi, message):
    with pytest.raises(ValueError) as err:
        SemiSupervisedSegmentor(backbone=TINY_VNET, semi_train_cfg=semi)
    assert message in str(err.value)


@pytest.mark.parametrize('key', ['noise', 'unsup_weights', 'cut_students'])
def test_model_options_moved_to_semi_train_cfg(key):
    with pytest.raises(ValueError, match=rf'set model\.semi_train_cfg\.{key} instead'):
        SemiSupervisedSegmentor(backbone=TINY_VNET, **{key: None})
    with pytest.raises(ValueError, match='model.nosie is not an option'):
        SemiSupervisedSegmentor(backbone=TINY_VNET, nosie=0.1)


def test_semi_train_cfg_defaults_and_attributes():
    model = _semi_model(unsup_weights=dict(dyn=0.5), strategies=dict(
        fix=dict(type='FixedPseudoLabel'), dyn=dict(type='DynamicPseudoLabel'), mine=None))
    cfg = model.semi_train_cfg
    assert cfg.unsup_weights == dict(fix=1.0, dyn=0.5, mine=1.0)
    assert cfg.shift == dict(range=None, axes=('h', 'w'), pad=False)
    assert cfg.schedule.rampup_iters == 6000 and cfg.cut_students == (2, )
    assert (model.unsup_weights, model.cut_students, model.noise) == (cfg.unsup_weights, (2, ),
                                                                      0.0)
    model.noise = 0.1  # the attributes write through to the one home
    assert model.semi_train_cfg.noise == 0.1
    with pytest.raises(ValueError, match='cut_students'):
        model.cut_students = (3, )


# ---------------------------------------------------------------- predict

def _resampled_case(gt_shape=(8, 16, 16)):
    """A case whose test pipeline halved the image only (Resample3D keys=('img',))."""
    img = -np.ones((1, 8, 16, 16), dtype=np.float32)
    img[..., :8] = 1.0  # foreground on the left half of w
    gt = np.zeros((8, 16, 16), dtype=np.uint8)
    gt[..., :8] = 1
    results = dict(img=img, gt_seg_map=gt, spacing=(1.0, 1.0, 1.0))
    results = Resample3D(scale=0.5, keys=('img', )).transform(results)
    assert results['img'].shape == (1, 4, 8, 8) and results['gt_seg_map'].shape == (8, 16, 16)
    sample = VolSegDataSample(metainfo=dict(case_id='r', transforms=results['transforms']))
    gt_t = torch.as_tensor(results['gt_seg_map'], dtype=torch.long)
    if tuple(gt_shape) != tuple(gt_t.shape):
        gt_t = torch.zeros(gt_shape, dtype=torch.long)
    sample.gt_sem_seg = VoxelData(data=gt_t[None])
    return torch.as_tensor(results['img'])[None], sample, torch.as_tensor(gt, dtype=torch.long)


def _threshold_model():
    model = SupervisedSegmentor(backbone=TINY_VNET,
                                test_cfg=dict(patch_size=SIZE, stride=(2, 4, 4)))
    model.backbone = AffineNet(1.0, 0.0)  # p1 > 0.5 where x > 0
    return model.eval()


def test_predict_inverts_the_test_pipeline():
    vol, sample, gt = _resampled_case()
    out = _threshold_model().predict(vol, [sample])
    pred = out[0].pred_sem_seg.data[0]
    assert pred.shape == gt.shape == (8, 16, 16)
    # away from the one blurred column pair at the boundary the label is exact
    keep = torch.ones(16, dtype=torch.bool)
    keep[7:9] = False
    assert torch.equal(pred[..., keep], gt[..., keep])


def test_predict_shape_mismatch_raises():
    vol, sample, _ = _resampled_case(gt_shape=(8, 16, 14))
    with pytest.raises(ValueError, match='test pipeline'):
        _threshold_model().predict(vol, [sample])


# ---------------------------------------------------------------- supervised


def test_supervised_loss_equals_ce_dice():
    model = SupervisedSegmentor(backbone=TINY_VNET)
    model.backbone = AffineNet(*NET1)
    _, samples, t = _two_stream_batch()
    losses = model(t['x_l'], samples[:2], mode='loss')
    assert set(losses) == {'loss_sup'}
    expected = CEDiceLoss()(AffineNet.logits(t['x_l'], *NET1), t['gt'])
    assert losses['loss_sup'].item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.equal(model.backbone.seen[0], t['x_l'])


def test_supervised_rejects_two_stream_batch():
    model = SupervisedSegmentor(backbone=TINY_VNET)
    inputs, samples, _ = _two_stream_batch()
    with pytest.raises(ValueError, match='two-stream'):
        model.loss(inputs, samples)
    with pytest.raises(KeyError, match='gt_sem_seg'):
        model.loss(torch.zeros(1, 1, *SIZE), [VolSegDataSample()])


# ---------------------------------------------------------------- teacher mode


def _bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv3d(1, 3, 3, padding=1), nn.BatchNorm3d(3), nn.ReLU(),
                         nn.Dropout3d(0.5), nn.Conv3d(3, 2, 1))


def _buffers(net: nn.Module) -> dict:
    return {k: v.clone() for k, v in net.named_buffers()}


def _same_buffers(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _x() -> torch.Tensor:
    return torch.randn(4, 1, 4, 8, 8, generator=_gen(1)) * 2 + 1


def test_teacher_mode_train_frozen():
    net = _bn_net().train()
    net[1].running_mean.fill_(0.3)
    before = _buffers(net)
    reference = copy.deepcopy(net)
    reference[3].p = 0.0  # train-mode BN (batch statistics), no dropout
    x = _x()
    with torch.no_grad(), teacher_mode(net, 'train_frozen') as teacher:
        assert teacher is net
        y1, y2 = net(x), net(x)
        assert not net[3].training
    assert torch.equal(y1, y2)  # dropout off
    assert torch.allclose(y1, reference(x), atol=1e-6)  # normalised with batch statistics
    assert _same_buffers(_buffers(net), before)  # running stats and counter untouched
    assert all(m.training for m in net.modules())  # flags restored
    assert net[1].track_running_stats
    net.eval()
    with torch.no_grad(), teacher_mode(net):
        assert net.training
    assert not any(m.training for m in net.modules())


def test_teacher_mode_eval_uses_running_stats():
    net = _bn_net().train()
    net[1].running_mean.fill_(0.5)
    net[1].running_var.fill_(2.0)
    before = _buffers(net)
    expected = copy.deepcopy(net).eval()(_x())
    with torch.no_grad(), teacher_mode(net, 'eval'):
        y = net(_x())
        assert not any(m.training for m in net.modules())
    assert torch.allclose(y, expected, atol=1e-6)
    assert _same_buffers(_buffers(net), before)
    assert all(m.training for m in net.modules())


def test_teacher_mode_train_updates_stats():
    net = _bn_net().eval()
    before = _buffers(net)
    with torch.no_grad(), teacher_mode(net, 'train'):
        y1, y2 = net(_x()), net(_x())
    assert int(net[1].num_batches_tracked) == int(before['1.num_batches_tracked']) + 2
    assert not torch.equal(net[1].running_mean, before['1.running_mean'])
    assert not torch.equal(y1, y2)  # dropout active
    assert not any(m.training for m in net.modules())  # restored to eval


def test_teacher_mode_restores_after_error_and_rejects_bad_mode():
    net = _bn_net().train()
    with pytest.raises(RuntimeError):
        with teacher_mode(net, 'train_frozen'):
            raise RuntimeError('boom')
    assert all(m.training for m in net.modules()) and net[1].track_running_stats
    with pytest.raises(ValueError, match='teacher mode'):
        with teacher_mode(net, 'frozen'):
            pass


# ---------------------------------------------------------------- data preprocessor


def _sample(context: bool = False, case: str = '') -> VolSegDataSample:
    s = VolSegDataSample(metainfo=dict(case_id=case))
    if context:
        s.context_mask = VoxelData(data=torch.ones(1, *CONTEXT, dtype=torch.uint8))
    return s


def test_preprocessor_plain_stacking():
    pre = VolSegDataPreprocessor()
    vols = [torch.full((1, *SIZE), float(i), dtype=torch.float64) for i in range(3)]
    samples = [_sample(case=str(i)) for i in range(3)]
    out = pre(dict(inputs=vols, data_samples=samples))
    assert out['inputs'].shape == (3, 1, *SIZE) and out['inputs'].dtype == torch.float32
    assert [s.case_id for s in out['data_samples']] == ['0', '1', '2']
    assert 'batch_pad' not in out['data_samples'][0]
    assert torch.equal(out['inputs'][2], vols[2].float())
    stacked = pre(dict(inputs=torch.stack(vols), data_samples=samples))
    assert torch.equal(stacked['inputs'], out['inputs'])


def test_preprocessor_pads_different_shapes():
    vols = [torch.ones(1, 4, 8, 8), torch.ones(1, 3, 8, 6)]
    samples = [_sample(case='a'), _sample(case='b')]
    out = VolSegDataPreprocessor(pad_value=-1.0)(dict(inputs=vols, data_samples=samples))
    assert out['inputs'].shape == (2, 1, 4, 8, 8)
    assert out['data_samples'][0].batch_pad == (0, 0, 0)
    assert out['data_samples'][1].batch_pad == (1, 0, 2)
    assert (out['inputs'][1, :, :3, :, :6] == 1).all()
    assert (out['inputs'][1, :, 3] == -1).all() and (out['inputs'][1, ..., 6:] == -1).all()
    out = VolSegDataPreprocessor(size_divisor=16)(
        dict(inputs=vols, data_samples=[_sample(), _sample()]))
    assert out['inputs'].shape == (2, 1, 16, 16, 16)
    assert out['data_samples'][1].batch_pad == (13, 8, 10)


def test_preprocessor_two_stream_split():
    g = _gen()
    x = [torch.rand(1, *CONTEXT, generator=g), torch.rand(1, *SIZE, generator=g),
         torch.rand(1, *CONTEXT, generator=g), torch.rand(1, *SIZE, generator=g)]
    samples = [_sample(True, 'u0'), _sample(False, 'l0'), _sample(True, 'u1'),
               _sample(False, 'l1')]
    out = VolSegDataPreprocessor()(dict(inputs=x, data_samples=samples))
    assert set(out['inputs']) == {'labeled', 'unlabeled'}
    assert torch.equal(out['inputs']['labeled'], torch.stack([x[1], x[3]]))
    assert torch.equal(out['inputs']['unlabeled'], torch.stack([x[0], x[2]]))
    assert [s.case_id for s in out['data_samples']] == ['l0', 'l1', 'u0', 'u1']
    # unlabeled only
    out = VolSegDataPreprocessor()(dict(inputs=[x[0], x[2]], data_samples=[samples[0],
                                                                           samples[2]]))
    assert out['inputs']['labeled'] is None
    assert out['inputs']['unlabeled'].shape == (2, 1, *CONTEXT)


def test_preprocessor_rejects_unequal_context_shapes():
    x = [torch.rand(1, *CONTEXT), torch.rand(1, 4, 12, 10)]
    samples = [_sample(True), _sample(True)]
    with pytest.raises(ValueError, match='share a shape'):
        VolSegDataPreprocessor()(dict(inputs=x, data_samples=samples))


def test_two_stream_batch_through_model_forward():
    """Preprocessor output feeds ``forward(mode='loss')`` directly."""
    model = _semi_model()
    model.unsup_weight = 1.0
    inputs, samples, t = _two_stream_batch()
    raw = dict(inputs=[inputs['unlabeled'][0], inputs['labeled'][0], inputs['unlabeled'][1],
                       inputs['labeled'][1]],
               data_samples=[samples[2], samples[0], samples[3], samples[1]])
    batch = model.data_preprocessor(raw, training=True)
    losses = model(**batch, mode='loss')
    direct = _semi_model()
    direct.unsup_weight = 1.0
    expected = direct.loss(inputs, samples)
    for k, v in expected.items():
        assert losses[k].item() == pytest.approx(v.item(), rel=1e-6), k
    assert not math.isnan(sum(v.item() for v in losses.values()))
