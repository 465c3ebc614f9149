"""Tests of the pseudo-label weight schedule and of PseudoLabelHook.

The hook runs on a real (tiny) :class:`SemiSupervisedSegmentor` and a raw
data batch built by hand, the way the dataloader hands it to
``before_train_iter``: a list of ``(C, D, H, W)`` inputs and data samples,
unlabeled context regions carrying ``context_mask``, ``fixed_origin`` and
``fixed_size``.
"""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope

from fdpl.engine.hooks import PseudoLabelHook
from fdpl.engine.weight_schedule import unsup_weight
from fdpl.models import SemiSupervisedSegmentor
from fdpl.models.utils import teacher_mode
from fdpl.pseudo_labels import CutMix, DynamicPseudoLabel, FixedPseudoLabel
from fdpl.structures import VolSegDataSample, VoxelData

SIZE = (16, 32, 32)
MAX_SHIFT = (0, 8, 8)
ORIGIN = MAX_SHIFT  # the fixed crop sits max_shift into its context region
CONTEXT = tuple(s + 2 * m for s, m in zip(SIZE, MAX_SHIFT))
LABELS = ('fix_1', 'dyn_1', 'fix_2', 'dyn_2')


@pytest.fixture(autouse=True)
def fdpl_scope():
    """Build components in the ``fdpl`` scope, as a config does."""
    with DefaultScope.overwrite_default_scope('fdpl'):
        yield


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- schedule


def test_schedule_warmup_gives_zero():
    for it in (0, 50, 99):
        assert unsup_weight(it, warmup_iters=100) == 0.0
        assert unsup_weight(it, warmup_iters=100, ramp='constant') == 0.0
    assert unsup_weight(100, warmup_iters=100) == pytest.approx(math.exp(-5))
    assert unsup_weight(100 + 150, warmup_iters=100) == unsup_weight(150)


def test_schedule_sigmoid_known_points():
    assert unsup_weight(0) == pytest.approx(math.exp(-5))
    assert unsup_weight(3000) == pytest.approx(math.exp(-5 * 0.25))
    assert unsup_weight(150) == pytest.approx(math.exp(-5 * (1 - 150 / 6000)**2))
    for it in (6000, 6149, 10**6):
        assert unsup_weight(it) == 1.0
    assert unsup_weight(6000, weight_max=0.3) == pytest.approx(0.3)
    assert unsup_weight(0, weight_max=0.3) == pytest.approx(0.3 * math.exp(-5))
    # t is quantised to multiples of rampup_step
    assert unsup_weight(149) == unsup_weight(0)
    assert unsup_weight(299) == unsup_weight(150)
    assert unsup_weight(300) > unsup_weight(299)
    assert unsup_weight(1, rampup_iters=10, rampup_step=1) == pytest.approx(
        math.exp(-5 * 0.81))
    values = [unsup_weight(i) for i in range(0, 6001, 150)]
    assert values == sorted(values)


def test_schedule_linear_and_constant():
    assert unsup_weight(75, ramp='linear', rampup_iters=100, rampup_step=1) == pytest.approx(0.75)
    assert unsup_weight(75, ramp='linear', rampup_iters=100, rampup_step=10) == pytest.approx(0.7)
    assert unsup_weight(0, ramp='linear') == 0.0
    assert unsup_weight(500, ramp='linear', rampup_iters=100, weight_max=2.0) == 2.0
    for it in (0, 1, 10**5):
        assert unsup_weight(it, ramp='constant', weight_max=0.4) == 0.4
    assert unsup_weight(0, rampup_iters=0, weight_max=0.6) == 0.6


def test_schedule_bad_ramp():
    with pytest.raises(ValueError, match='ramp'):
        unsup_weight(0, ramp='cosine')
    with pytest.raises(ValueError, match='ramp'):
        PseudoLabelHook(ramp='cosine')


# ---------------------------------------------------------------- fixtures


def _model(seed: int = 0) -> SemiSupervisedSegmentor:
    torch.manual_seed(seed)
    return SemiSupervisedSegmentor(backbone=dict(type='VNet', base_channels=2))


def _balance_head(net: nn.Module, batch: dict, mode: str, gain: float = 10.0) -> None:
    """Scale the head of a fresh VNet and centre it on the batch's fixed crops.

    A randomly initialised network tends to predict one class everywhere;
    after this a good part of the fixed-crop voxels are foreground, so CUT
    visibly changes the labels, and the logit gaps are wide.
    """
    (o0, o1, o2), (s0, s1, s2) = ORIGIN, SIZE
    x = torch.stack([batch['inputs'][i][:, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2]
                     for i, s in enumerate(batch['data_samples']) if 'context_mask' in s])
    with torch.no_grad():
        net.conv_seg.weight.mul_(gain)
        net.conv_seg.bias.mul_(gain)
        with teacher_mode(net, mode):
            logits = net(x)
        net.conv_seg.bias[1] -= (logits[:, 1] - logits[:, 0]).mean()


def _raw_batch(seed: int = 0) -> dict:
    """``[unlabeled, labeled, unlabeled]`` as the dataloader yields them.

    The second context region is padding on its first 5 columns in w (a
    fixed crop near the volume border); both unlabeled cases carry a ground
    truth for monitoring.
    """
    g = _gen(seed)
    inputs, samples = [], []
    for kind in ('unl', 'lab', 'unl'):
        idx = len(samples)
        if kind == 'lab':
            x = torch.randn(1, *SIZE, generator=g)
            s = VolSegDataSample(metainfo=dict(case_id=f'lab{idx}', labeled=True))
            s.gt_sem_seg = VoxelData(data=(x > 0.5).long())
        else:
            x = torch.randn(1, *CONTEXT, generator=g)
            mask = torch.ones(1, *CONTEXT, dtype=torch.uint8)
            if idx == 2:
                x[..., :5] = 0
                mask[..., :5] = 0
            s = VolSegDataSample(metainfo=dict(case_id=f'unl{idx}', labeled=False,
                                               fixed_origin=ORIGIN, fixed_size=SIZE,
                                               max_shift=MAX_SHIFT))
            s.context_mask = VoxelData(data=mask)
            s.gt_sem_seg = VoxelData(data=(x > 0.3).long() * mask)
        inputs.append(x)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def _unlabeled(batch: dict):
    return [s for s in batch['data_samples'] if 'context_mask' in s]


def _runner(model, seed: int = 0, it: int = 0):
    return SimpleNamespace(model=model, seed=seed, iter=it,
                           message_hub=MessageHub.get_instance('fdpl_test_pseudo_label_hook'))


def _attached(batch: dict, key: str) -> torch.Tensor:
    """``(B_u, d, h, w)`` of one pseudo-label field over the unlabeled samples."""
    return torch.cat([s.pseudo_labels.get(key) for s in _unlabeled(batch)])


def _reference(model, batch: dict, state: torch.Tensor, mode: str = 'eval'):
    """Labels recomputed with the strategies' own ``__call__``.

    Draws in the hook's order from a generator in ``state``: the CUT boxes,
    then the shifts of student 1's teacher, then those of student 2's.

    Returns:
        tuple: ``{name: (labels, margin)}`` (student-2 labels CUT-mixed),
        the CUT masks and the partners. ``margin`` is the teacher's
        ``|p1 - p0|`` behind each label.
    """
    g = torch.Generator()
    g.set_state(state)
    unl = _unlabeled(batch)
    idx = [i for i, s in enumerate(batch['data_samples']) if 'context_mask' in s]
    ctx = torch.stack([batch['inputs'][i] for i in idx]).float()
    cmask = torch.stack([s.context_mask.data for s in unl])
    cut = CutMix()
    masks, partners = cut.draw(len(unl), SIZE, generator=g)
    out = {}
    for student, teacher in ((1, model.net2), (2, model.net1)):

        def teach(x, net=teacher):
            with teacher_mode(net, mode):
                return torch.softmax(net(x), dim=1)

        for name, strategy in (('fix', FixedPseudoLabel()), ('dyn', DynamicPseudoLabel())):
            res = strategy(teach, ctx, cmask, ORIGIN, SIZE, generator=g)
            labels, margin = res.labels, (res.probs[:, 1] - res.probs[:, 0]).abs()
            if student == 2:
                labels = cut.apply(labels, masks, partners)
                margin = cut.apply(margin, masks, partners)
            out[f'{name}_{student}'] = (labels, margin)
    return out, masks, partners


def _assert_labels_match(actual, expected, margin, tol: float = 1e-4):
    """Equal labels, except possibly at near-ties of the teacher.

    The hook batches windows differently from the reference; CPU kernels
    may then differ in the last float bit, which can only flip a voxel
    whose two class probabilities are (almost) equal.
    """
    differ = actual != expected
    assert not (differ & (margin > tol)).any()
    assert differ.float().mean() < 1e-3


# ---------------------------------------------------------------- make_pseudo_labels


def test_make_pseudo_labels_attaches_labels_and_stats():
    model = _model()
    with torch.no_grad():  # SN2 predicts class 1 everywhere
        model.net2.conv_seg.weight.zero_()
        model.net2.conv_seg.bias.copy_(torch.tensor([-10.0, 10.0]))
    batch = _raw_batch()
    _balance_head(model.net1, batch, 'train_frozen')
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    hook = PseudoLabelHook()  # train_frozen teacher
    hook.before_run(_runner(model))
    stats = hook.make_pseudo_labels(model, batch)

    unl = _unlabeled(batch)
    assert 'pseudo_labels' not in batch['data_samples'][1]  # the labeled sample
    for j, s in enumerate(unl):
        pl = s.pseudo_labels
        for key in LABELS:
            assert pl.get(key).shape == (1, *SIZE) and pl.get(key).dtype == torch.long
        assert pl.cut_mask.shape == (1, *SIZE)
        assert s.cut_partner == 1 - j
        assert not any(k.startswith('w_') for k in pl.keys())
    assert torch.equal(unl[0].pseudo_labels.cut_mask, unl[1].pseudo_labels.cut_mask)

    # the teacher of student 1 is SN2: its labels are all foreground
    assert (_attached(batch, 'fix_1') == 1).all() and (_attached(batch, 'dyn_1') == 1).all()
    assert (_attached(batch, 'fix_2') == 0).any()
    # BN running statistics of both sub-networks are untouched (train_frozen)
    after = dict(model.named_buffers())
    assert all(torch.equal(v, after[k]) for k, v in buffers.items())

    for key in ('fix1_fg', 'dyn1_fg', 'fix2_fg', 'dyn2_fg', 'dyn1_region', 'dyn2_region',
                'fix1_dice_gt', 'dyn1_dice_gt', 'fix2_dice_gt', 'dyn2_dice_gt',
                'teacher1_dice_labeled', 'teacher2_dice_labeled', 'fix_dyn1_differ'):
        assert key in stats and isinstance(stats[key], float), key
    assert stats['fix1_fg'] == 1.0 and stats['dyn1_fg'] == 1.0
    assert stats['dyn1_changed'] == 0.0 and stats['fix_dyn1_differ'] == 0.0
    assert 0.0 < stats['dyn1_region'] <= 1.0
    # CUT swaps voxels between the members of a pair: the batch's fraction is kept
    assert stats['fix2_fg'] == pytest.approx(float(_attached(batch, 'fix_2').float().mean()))
    (o0, o1, o2), (s0, s1, s2) = ORIGIN, SIZE
    gt_u = torch.stack([s.gt_sem_seg.data[0, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2] for s in unl])
    n_fg = float(gt_u.sum())
    assert stats['fix1_dice_gt'] == pytest.approx(2 * n_fg / (n_fg + gt_u.numel()))
    gt_l = batch['data_samples'][1].gt_sem_seg.data
    n_fg = float(gt_l.sum())
    assert stats['teacher2_dice_labeled'] == pytest.approx(2 * n_fg / (n_fg + gt_l.numel()))

    # the attached labels feed the model's loss through the data preprocessor
    model.unsup_weight = 1.0
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert set(losses) == {'loss_sup_1', 'loss_fix_1', 'loss_dyn_1', 'loss_sup_2', 'loss_fix_2',
                           'loss_dyn_2', 'unsup_w'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_cut_student_labels_are_cut_mix_of_clean_labels():
    model = _model(1)
    for net in model.nets:
        _balance_head(net, _raw_batch(), 'eval')
    hooks = {bs: PseudoLabelHook(teacher_mode='eval', seed=7, teacher_batch_size=bs)
             for bs in (None, 1)}
    for hook in hooks.values():
        hook.before_run(_runner(model))
    state = hooks[None].generator.get_state()
    expected, masks, partners = _reference(model, _raw_batch(), state, mode='eval')

    for bs, hook in hooks.items():
        batch = _raw_batch()
        hook.make_pseudo_labels(model, batch)
        for key in LABELS:
            _assert_labels_match(_attached(batch, key), *expected[key])
        assert torch.equal(_attached(batch, 'cut_mask'), masks)
        assert [s.cut_partner for s in _unlabeled(batch)] == partners.tolist()
        if bs is None:
            labels_none = {k: _attached(batch, k) for k in LABELS}
        else:  # chunked teacher forwards give the same labels
            for key in LABELS:
                _assert_labels_match(_attached(batch, key), labels_none[key],
                                     expected[key][1])
    # student 2's labels really are mixed: they differ from the clean ones in the box
    clean = expected['fix_2'][0]
    assert not torch.equal(clean, CutMix.apply(clean, masks, partners))


def test_cut_disabled_and_no_cut_students():
    model = _model()
    model.cut_students = ()
    batch = _raw_batch()
    hook = PseudoLabelHook(
        cut=None, strategies=dict(fix=dict(type='FixedPseudoLabel', confidence_threshold=0.51)),
        teacher_mode='eval', monitor=False)
    hook.before_run(_runner(model))
    stats = hook.make_pseudo_labels(model, batch)
    assert stats == {}
    for s in _unlabeled(batch):
        assert set(s.pseudo_labels.keys()) == {'fix_1', 'fix_2', 'w_fix_1', 'w_fix_2'}
        assert 'cut_partner' not in s
        assert set(s.pseudo_labels.w_fix_1.unique().tolist()) <= {0.0, 1.0}
    model.unsup_weight = 1.0
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert set(losses) == {'loss_sup_1', 'loss_fix_1', 'loss_sup_2', 'loss_fix_2', 'unsup_w'}
    with pytest.raises(ValueError, match='unlabeled'):
        hook.make_pseudo_labels(model, dict(inputs=[batch['inputs'][1]],
                                            data_samples=[batch['data_samples'][1]]))


# ---------------------------------------------------------------- before_train_iter


def test_before_train_iter_sets_weight_and_skips_warmup():
    model = _model()
    runner = _runner(model)
    hook = PseudoLabelHook(warmup_iters=5, rampup_iters=10, rampup_step=1, weight_max=0.5)
    hook.before_run(runner)
    batch = _raw_batch()
    model.unsup_weight = 123.0
    hook.before_train_iter(runner, 0, batch)
    assert model.unsup_weight == 0.0
    assert all('pseudo_labels' not in s for s in batch['data_samples'])  # no teacher pass
    assert runner.message_hub.get_scalar('train/unsup_weight').current() == 0.0

    runner.iter = 10
    hook.before_train_iter(runner, 0, None)
    assert model.unsup_weight == pytest.approx(0.5 * math.exp(-5 * 0.25))

    runner.iter = 20
    hook.before_train_iter(runner, 0, batch)
    assert model.unsup_weight == 0.5
    for s in _unlabeled(batch):
        assert set(LABELS) <= set(s.pseudo_labels.keys())
    assert runner.message_hub.get_scalar('train/unsup_weight').current() == 0.5
    assert runner.message_hub.get_scalar('train/pl_fix1_fg').current() >= 0.0


# ---------------------------------------------------------------- state


def test_generator_state_round_trip():
    model = _model()
    hook = PseudoLabelHook()
    hook.before_run(_runner(model, seed=3))
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    state = checkpoint['pseudo_label_hook']['generator']
    assert isinstance(state, torch.Tensor)  # a tensor, never a numpy object
    first = torch.rand(8, generator=hook.generator)

    hook.after_load_checkpoint(None, checkpoint)
    assert torch.equal(torch.rand(8, generator=hook.generator), first)

    other = PseudoLabelHook(seed=99)  # a fresh run resumed from the checkpoint
    other.before_run(_runner(model))
    assert not torch.equal(torch.rand(8, generator=other.generator), first)
    other.after_load_checkpoint(None, checkpoint)
    assert torch.equal(torch.rand(8, generator=other.generator), first)

    other.after_load_checkpoint(None, {})  # an old checkpoint without the key
    same = PseudoLabelHook()
    same.before_run(_runner(model, seed=3))  # the runner's seed when none is given
    assert torch.equal(torch.rand(8, generator=same.generator), first)


# ---------------------------------------------------------------- bad options


def test_bad_options():
    with pytest.raises(KeyError):
        PseudoLabelHook(strategies=dict(fix=dict(type='NoSuchPseudoLabel')))
    with pytest.raises(ValueError, match='_'):
        PseudoLabelHook(strategies=dict(fix_a=dict(type='FixedPseudoLabel')))
    with pytest.raises(ValueError, match='strategy'):
        PseudoLabelHook(strategies={})
    with pytest.raises(TypeError, match='BasePseudoLabeler'):
        PseudoLabelHook(strategies=dict(cut=dict(type='CutMix')))
    with pytest.raises(ValueError, match='teacher_mode'):
        PseudoLabelHook(teacher_mode='frozen')
    hook = PseudoLabelHook()
    with pytest.raises(TypeError, match='nets'):
        hook.before_run(SimpleNamespace(model=nn.Conv3d(1, 2, 1), seed=0))
