"""Tests of the pseudo-label weight schedule and of PseudoLabelHook.

The hook runs on a real (tiny) :class:`SemiSupervisedSegmentor` and a raw
data batch built by hand, the way the dataloader hands it to
``before_train_iter``: a list of ``(C, D, H, W)`` inputs and data samples,
unlabeled context regions carrying ``context_mask``, ``fixed_origin`` and
``fixed_size``.
"""
import math
from pathlib import Path
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
    with pytest.raises(ValueError, match=r'model\.semi_train_cfg\.schedule\.ramp'):
        _model(schedule=dict(ramp='cosine'))


# ---------------------------------------------------------------- fixtures


def _model(seed: int = 0, **semi_train_cfg) -> SemiSupervisedSegmentor:
    torch.manual_seed(seed)
    return SemiSupervisedSegmentor(backbone=dict(type='VNet', base_channels=2),
                                   semi_train_cfg=semi_train_cfg)


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
            if mode == 'reference_stats':
                return _reference_stats_probs(net, x, len(unl))
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


def _reference_stats_probs(net: nn.Module, crops: torch.Tensor, b: int) -> torch.Tensor:
    """The ``train_frozen`` teacher, computed the straightforward way.

    ``crops`` are ``(b * (1 + N), C, d, h, w)``, sample-major, the fixed crop
    first. The fixed crops go through the network in one batch-statistics
    pass (:func:`teacher_mode`); the statistics of that pass become the
    running statistics of a copy of the network (BatchNorm momentum 1, the
    unbiased variance turned back into the biased one the pass normalised
    with), which then predicts every window alone, in eval mode.
    """
    import copy

    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.dropout import _DropoutNd
    crops = crops.view(b, -1, *crops.shape[1:])
    with teacher_mode(net, 'train_frozen'):
        fixed = torch.softmax(net(crops[:, 0]), dim=1)
    ref = copy.deepcopy(net).train()
    counts = {}
    for m in ref.modules():
        if isinstance(m, _DropoutNd):
            m.eval()
        elif isinstance(m, _BatchNorm):
            m.reset_running_stats()
            m.momentum = 1.0
            m.register_forward_pre_hook(
                lambda mod, inp: counts.__setitem__(mod, inp[0].numel() // inp[0].shape[1]))
    ref(crops[:, 0])
    for m, n in counts.items():
        m.running_var.mul_((n - 1) / n)
    ref.eval()
    out = []
    for i in range(b):
        out.append(fixed[i:i + 1])
        out += [torch.softmax(ref(w[None]), dim=1) for w in crops[i, 1:]]
    return torch.cat(out)


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
    stats = hook.make_pseudo_labels(model, batch, monitor_labeled=True)

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
    model = _model(1, teacher_mode='eval')
    for net in model.nets:
        _balance_head(net, _raw_batch(), 'eval')
    hooks = {bs: PseudoLabelHook(seed=7) for bs in (None, 1)}
    for bs, hook in hooks.items():
        model.semi_train_cfg.teacher_batch_size = bs
        hook.before_run(_runner(model))
        assert hook.teacher_batch_size == bs and hook.teacher_mode == 'eval'
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
    model = _model(cut=None, cut_students=(), teacher_mode='eval',
                   strategies=dict(fix=dict(type='FixedPseudoLabel', confidence_threshold=0.51)))
    batch = _raw_batch()
    hook = PseudoLabelHook(monitor=False)
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
    model = _model(schedule=dict(warmup_iters=5, rampup_iters=10, rampup_step=1, weight_max=0.5))
    runner = _runner(model)
    hook = PseudoLabelHook()
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
    for semi, err, match in [
        (dict(strategies=dict(fix=dict(type='NoSuchPseudoLabel'))), KeyError, 'NoSuchPseudoLabel'),
        (dict(strategies=dict(fix_a=dict(type='FixedPseudoLabel'))), ValueError, '_'),
        (dict(strategies={}), ValueError, 'strategy'),
        (dict(strategies=dict(fix=None, dyn=None)), ValueError, 'strategy'),
        (dict(strategies=dict(cut=dict(type='CutMix'))), TypeError, 'BasePseudoLabeler'),
        (dict(teacher_mode='frozen'), ValueError, 'teacher_mode'),
    ]:
        with pytest.raises(err, match=match):
            _model(**semi)
    hook = PseudoLabelHook()
    with pytest.raises(TypeError, match='nets'):
        hook.before_run(SimpleNamespace(model=nn.Conv3d(1, 2, 1), seed=0))
    with pytest.raises(RuntimeError, match='configure'):
        hook.make_pseudo_labels(_model(), _raw_batch())


@pytest.mark.parametrize('option, home', [
    (dict(weight_max=0.3), 'model.semi_train_cfg.schedule.weight_max'),
    (dict(rampup_iters=600), 'model.semi_train_cfg.schedule.rampup_iters'),
    (dict(strategies=dict(fix=dict(type='FixedPseudoLabel'))), 'model.semi_train_cfg.strategies'),
    (dict(teacher_mode='eval'), 'model.semi_train_cfg.teacher_mode'),
    (dict(cut=None), 'model.semi_train_cfg.cut'),
])
def test_method_options_on_the_hook_point_to_their_home(option, home):
    """A config that still sets method options on the hook fails, naming the new key."""
    with pytest.raises(ValueError, match=home.replace('.', r'\.') + ' instead'):
        PseudoLabelHook(**option)
    with pytest.raises(ValueError, match=r'PseudoLabelHook\.seeed is not an option.*seed'):
        PseudoLabelHook(seeed=1)


def test_hook_reads_the_model_settings():
    model = _model(teacher_mode='eval', teacher_batch_size=3, cut=None,
                   shift=dict(range=(2, 5), axes=('w', ), pad=True),
                   schedule=dict(weight_max=0.5, rampup_iters=10),
                   strategies=dict(fix=None, dyn=dict(type='DynamicPseudoLabel', num_crops=2)))
    hook = PseudoLabelHook()
    hook.before_run(_runner(model))
    assert list(hook.strategies) == ['dyn'] and hook.cut is None
    dyn = hook.strategies['dyn']
    assert (dyn.shift_range, dyn.shift_axes, dyn.shift_pad) == ((2, 5), (2, ), True)
    assert dyn.num_crops == 2
    assert (hook.teacher_mode, hook.teacher_batch_size) == ('eval', 3)
    assert hook.schedule == dict(weight_max=0.5, warmup_iters=0, rampup_iters=10,
                                 rampup_step=150, ramp='sigmoid')
    # confidence masking: one switch reaches every strategy
    model = _model(confidence_threshold=0.7)
    hook.configure(model)
    assert [s.confidence_threshold for s in hook.strategies.values()] == [0.7, 0.7]


# ---------------------------------------------------------------- one home, from the config

TINY = Path(__file__).resolve().parents[1] / 'data' / 'configs' / 'fdpl_tiny.py'


def _tiny_batch(cfg, tmp_path, monkeypatch):
    """Model, hook and one real batch of the tiny config (after check_config)."""
    from mmengine.runner import Runner

    from fdpl.registry import HOOKS, MODELS
    from fdpl.utils import check_config
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path))
    check_config(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    hook = HOOKS.build([h for h in cfg.custom_hooks if h['type'] == 'PseudoLabelHook'][0])
    hook.configure(model)
    hook.generator = _gen(0)
    cfg.train_dataloader.num_workers = 0
    batch = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    return model, hook, batch


def test_cfg_option_shift_range_changes_the_windows(tmp_path, monkeypatch):
    """``--cfg-options model.semi_train_cfg.shift.range=...`` reaches the windows drawn,
    and the context margin of the data follows it."""
    from mmengine.config import Config, DictAction
    parser = __import__('argparse').ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options', 'model.semi_train_cfg.shift.range=(3,3)',
                                 'model.semi_train_cfg.shift.pad=True']).cfg_options
    cfg = Config.fromfile(str(TINY))
    cfg.merge_from_dict(options)
    model, hook, batch = _tiny_batch(cfg, tmp_path, monkeypatch)
    crop = cfg.train_dataloader.dataset.datasets[1].pipeline[2]
    assert crop['type'] == 'ContextCrop3D' and tuple(crop['max_shift']) == (0, 3, 3)
    unl = [s for s in batch['data_samples'] if 'context_mask' in s]
    assert tuple(unl[0].metainfo['fixed_origin']) == (0, 3, 3)
    assert tuple(batch['inputs'][-1].shape[1:]) == (16, 16 + 6, 16 + 6)
    cmask = torch.stack([s.context_mask.data for s in unl])
    shifts = hook.strategies['dyn'].windows(cmask, (0, 3, 3), (16, 16, 16), _gen(1)) - \
        torch.tensor([0, 3, 3])
    assert shifts[..., 0].eq(0).all() and shifts[..., 1:].abs().eq(3).all()
    stats = hook.make_pseudo_labels(model, batch)
    assert stats['dyn1_shift_h'] == stats['dyn2_shift_w'] == 3.0

    # the default range of a 16 patch is [1, 4]: other windows, another margin
    default = Config.fromfile(str(TINY))
    model, hook, batch = _tiny_batch(default, tmp_path, monkeypatch)
    assert tuple(default.train_dataloader.dataset.datasets[1].pipeline[2]['max_shift']) == (
        0, 4, 4)
    assert hook.strategies['dyn'].shift_range is None


def test_margin_mismatch_fails_naming_both(tmp_path, monkeypatch):
    """A Runner built without check_config, margin and shift range disagreeing."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(str(TINY))
    cfg.model.semi_train_cfg.shift.range = (2, 6)  # needs max_shift (0, 6, 6); data has 4
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    msg = str(err.value)
    assert 'train_dataloader.dataset.datasets.1.pipeline.2.max_shift=(0, 4, 4)' in msg
    assert 'model.semi_train_cfg.shift.range=(2, 6)' in msg and 'max_shift=(0, 6, 6)' in msg


# ---------------------------------------------------------------- the teacher's batch


def _swap_labeled(batch: dict, seed: int) -> dict:
    """The batch with other image content in its labeled crop."""
    x = torch.randn(1, *SIZE, generator=_gen(seed)) * 3 + 1
    batch['inputs'][1] = x
    return batch


def test_train_frozen_labels_match_the_straightforward_path():
    """Pure engineering (chunking, inference mode, window cropping, fast argmax)
    keeps the labels of the straightforward computation of the same method:
    fixed crops with their batch statistics, each window alone with those."""
    model = _model(1)  # train_frozen teacher
    for net in model.nets:
        _balance_head(net, _raw_batch(), 'train_frozen')
    for bs in (None, ):  # other chunkings: see the next test
        model.semi_train_cfg.teacher_batch_size = bs
        hook = PseudoLabelHook(seed=5)
        hook.before_run(_runner(model))
        state = hook.generator.get_state()
        expected, masks, _ = _reference(model, _raw_batch(), state, mode='reference_stats')
        batch = _raw_batch()
        hook.make_pseudo_labels(model, batch, monitor_labeled=True)
        for key in LABELS:
            _assert_labels_match(_attached(batch, key), *expected[key])
        assert torch.equal(_attached(batch, 'cut_mask'), masks)


@pytest.mark.parametrize('mode', ['train_frozen', 'train', 'eval'])
def test_labels_do_not_depend_on_labeled_crops_or_chunking(mode):
    model = _model(2, teacher_mode=mode)
    for net in model.nets:
        _balance_head(net, _raw_batch(), 'train_frozen')
        if mode == 'train':  # dropout off: the labels are then deterministic
            net.dropout = None
    runs = {}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    for bs, labeled, monitor in ((None, 'orig', False), (None, 'other', True),
                                 (None, 'none', False), (1, 'orig', True), (3, 'other', False)):
        model.semi_train_cfg.teacher_batch_size = bs
        hook = PseudoLabelHook(seed=3)
        hook.before_run(_runner(model))
        batch = _raw_batch()
        if labeled == 'other':
            _swap_labeled(batch, 11)
        elif labeled == 'none':
            del batch['inputs'][1], batch['data_samples'][1]
        stats = hook.make_pseudo_labels(model, batch, monitor_labeled=monitor)
        assert ('teacher1_dice_labeled' in stats) == (monitor and labeled != 'none')
        runs[bs, labeled, monitor] = {k: _attached(batch, k) for k in LABELS}
        if mode == 'train':  # the fixed-crop pass updates the running stats
            for k, v in model.named_buffers():
                v.copy_(buffers[k])
    base = runs[None, 'orig', False]
    for (bs, labeled, monitor), labels in runs.items():
        for key in LABELS:
            if bs is None:  # the same forward passes: exactly the same labels
                assert torch.equal(labels[key], base[key]), (bs, labeled, monitor, key)
            else:  # other chunks: at most a last-bit flip at a near-tie
                assert (labels[key] != base[key]).float().mean() < 1e-3
    # the labeled crop does change what a batch-statistics teacher of the old
    # kind (one pass over labeled and unlabeled windows) would predict
    if mode != 'eval':
        x = torch.stack([_raw_batch()['inputs'][0][:, :, 8:40, 8:40]])
        y = _swap_labeled(_raw_batch(), 11)['inputs'][1][None]
        z = _raw_batch()['inputs'][1][None]
        with torch.no_grad(), teacher_mode(model.net1, 'train_frozen'):
            assert not torch.allclose(model.net1(torch.cat([y, x]))[1:],
                                      model.net1(torch.cat([z, x]))[1:])


def test_train_mode_updates_running_stats_once():
    model = _model(teacher_mode='train')
    hook = PseudoLabelHook()
    hook.before_run(_runner(model))
    before = {k: v.clone() for k, v in model.named_buffers() if 'num_batches' in k}
    hook.make_pseudo_labels(model, _raw_batch(), monitor_labeled=True)
    for k, v in model.named_buffers():
        if 'num_batches' in k:
            assert int(v) == int(before[k]) + 1, k  # the fixed-crop pass only


def test_labeled_monitoring_once_per_logging_interval():
    from mmengine.hooks import LoggerHook
    model = _model(schedule=dict(rampup_iters=0))
    runner = _runner(model)
    runner.hooks = [LoggerHook(interval=2)]
    hook = PseudoLabelHook()
    hook.before_run(runner)
    asked = []
    make = hook.make_pseudo_labels

    def spy(model, batch, monitor_labeled=False):
        asked.append(monitor_labeled)
        return make(model, batch, monitor_labeled=monitor_labeled)

    hook.make_pseudo_labels = spy
    logged = []
    for it in range(4):
        runner.iter = it
        hook.before_train_iter(runner, it, _raw_batch())
        logged.append(runner.message_hub.get_scalar('train/pl_teacher1_dice_labeled').current())
    assert asked == [True, False, True, False]
    assert logged[1] == logged[0] and logged[3] == logged[2]  # the latest measurement


def test_teacher_autocast():
    from mmengine.optim import AmpOptimWrapper, OptimWrapper

    from fdpl.engine.hooks.pseudo_label_hook import _amp_autocast_kwargs
    amp = AmpOptimWrapper.__new__(AmpOptimWrapper)  # building one needs CUDA
    amp.cast_dtype = torch.bfloat16
    plain = OptimWrapper(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1))
    assert _amp_autocast_kwargs(amp) == dict(dtype=torch.bfloat16)
    assert _amp_autocast_kwargs(plain) is None and _amp_autocast_kwargs(None) is None
    runner = SimpleNamespace(optim_wrapper=amp)
    hook = PseudoLabelHook()
    hook.before_train(runner)
    assert hook.teacher_autocast == dict(dtype=torch.bfloat16)

    model = _model(1, teacher_mode='eval')
    for net in model.nets:
        _balance_head(net, _raw_batch(), 'eval')
    labels = {}
    for name, kwargs in (('fp32', None), ('bf16', dict(dtype=torch.bfloat16))):
        hook = PseudoLabelHook(seed=0)
        hook.before_run(_runner(model))
        hook.teacher_autocast = kwargs
        batch = _raw_batch()
        hook.make_pseudo_labels(model, batch)
        labels[name] = _attached(batch, 'fix_1')
    # bfloat16 logits: labels flip only where the teacher is unsure
    assert (labels['fp32'] != labels['bf16']).float().mean() < 0.05


def test_channels_last_gives_the_same_pseudo_labels(tmp_path, monkeypatch):
    """``model.channels_last`` only changes the layout: on one real batch of the tiny config
    the fixed and dynamic labels of both teachers equal those of the default layout up to
    float rounding (the teacher logits agree to it, so only a near-tie can flip an argmax)."""
    import copy

    from mmengine.config import Config
    from fdpl.registry import MODELS
    cfg = Config.fromfile(str(TINY))
    model, hook, batch = _tiny_batch(cfg, tmp_path, monkeypatch)
    labels = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, channels_last=channels_last))
        assert all(p.is_contiguous(memory_format=torch.channels_last_3d)
                   for p in model.parameters() if p.dim() == 5) == channels_last
        hook.configure(model)
        hook.generator = _gen(0)
        data = copy.deepcopy(batch)
        hook.make_pseudo_labels(model, data)
        unl = [s for s in data['data_samples'] if 'context_mask' in s]
        labels.append({k: torch.stack([s.pseudo_labels.get(k) for s in unl])
                       for k in unl[0].pseudo_labels.keys()})
    assert labels[0].keys() == labels[1].keys() and len(labels[0]) >= 4
    for key, value in labels[0].items():
        # float rounding of the channels-last kernels (their summation order depends on the
        # processor and on the kernel oneDNN picks) may flip a label whose two class scores
        # are equal to about 1e-6: one voxel of 8192 did on an AVX-512 machine, after other
        # tests had run; a layout bug would change many
        assert (value != labels[1][key]).float().mean() <= 1e-3, key
