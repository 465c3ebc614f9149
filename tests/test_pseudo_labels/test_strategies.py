"""Tests of the pseudo-label strategies on hand-built teachers and regions.

The geometry functions themselves are covered by ``test_functional.py``;
here the strategies are checked end to end: which windows they ask for,
and which labels they return for a teacher whose answer is known.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fdpl.pseudo_labels import (BasePseudoLabeler, CutMix, DynamicPseudoLabel,
                                FixedPseudoLabel, PseudoLabel)
from fdpl.pseudo_labels.dynamic import context_room
from fdpl.pseudo_labels.functional import crop_windows
from fdpl.registry import PSEUDO_LABELERS

SIZE = (2, 8, 8)  # fixed crop (d, h, w)
ORIGIN = (0, 3, 3)  # fixed crop inside the context region
CONTEXT = (2, 14, 14)  # room of 3 voxels on both in-plane sides
DIAGONALS = [[0, 1, 1], [0, 1, -1], [0, -1, 1], [0, -1, -1]]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _onehot(labels: torch.Tensor, num_classes: int = 2) -> torch.Tensor:
    """``(B, d, h, w)`` int64 -> ``(B, K, d, h, w)`` float one-hot."""
    return F.one_hot(labels, num_classes).movedim(-1, 1).float()


def threshold_teacher(x: torch.Tensor) -> torch.Tensor:
    """Teacher that knows the truth: one-hot of ``x > 0.5``.

    ``(N, 1, d, h, w)`` -> ``(N, 2, d, h, w)``. Because it is pointwise, its
    prediction on a shifted window is the shifted truth.
    """
    return _onehot((x[:, 0] > 0.5).long())


def _context(batch: int = 1, seed: int = 0):
    ctx = torch.rand(batch, 1, *CONTEXT, generator=_gen(seed))
    mask = torch.ones(batch, 1, *CONTEXT, dtype=torch.uint8)
    return ctx, mask


def _fixed_view(vol: torch.Tensor, origin=ORIGIN, size=SIZE) -> torch.Tensor:
    """The fixed crop of ``(B, C, D', H', W')`` context regions."""
    (o0, o1, o2), (s0, s1, s2) = origin, size
    return vol[:, :, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2]


def _truth(ctx: torch.Tensor) -> torch.Tensor:
    """``(B, d, h, w)`` true labels of the fixed crops."""
    return (_fixed_view(ctx)[:, 0] > 0.5).long()


def _window_probs(ctx: torch.Tensor, origins: torch.Tensor, teacher=threshold_teacher):
    """Teacher probabilities ``(B, N, K, d, h, w)`` on the given windows."""
    crops = crop_windows(ctx, origins, SIZE)
    b, n = crops.shape[:2]
    probs = teacher(crops.flatten(0, 1))
    return probs.view(b, n, *probs.shape[1:])


def _origins(shifts, batch: int = 1) -> torch.Tensor:
    """``(B, N, 3)`` origins of windows shifted by ``shifts`` (list of (d, h, w))."""
    s = torch.tensor(shifts, dtype=torch.long).view(1, -1, 3).expand(batch, -1, 3)
    return s + torch.tensor(ORIGIN).view(1, 1, 3)


def _box(h0: int, h1: int, w0: int, w1: int, size=SIZE) -> torch.Tensor:
    """``(d, h, w)`` bool mask of an in-plane box spanning all slices."""
    m = torch.zeros(size, dtype=torch.bool)
    m[:, h0:h1, w0:w1] = True
    return m


# ---------------------------------------------------------------- fixed


def test_fixed_is_argmax_without_weights():
    probs = torch.softmax(torch.randn(2, 3, *SIZE, generator=_gen()), dim=1)
    res = FixedPseudoLabel()(lambda x: probs, torch.zeros(2, 1, *SIZE),
                             torch.ones(2, 1, *SIZE), (0, 0, 0), SIZE)
    assert isinstance(res, PseudoLabel)
    assert res.labels.dtype == torch.long and res.labels.shape == (2, *SIZE)
    assert torch.equal(res.labels, probs.argmax(1))
    assert res.weights is None and res.stats == {}
    assert torch.equal(res.probs, probs)


def test_fixed_confidence_threshold_masks_low_confidence():
    p1 = torch.tensor([0.05, 0.3, 0.45, 0.55, 0.7, 0.95]).view(1, 1, 6)
    p1 = p1.expand(1, 1, 2, 6).reshape(1, 1, 2, 6)  # (B, d=1, h=2, w=6)
    probs = torch.stack([1 - p1, p1], dim=1)  # (1, 2, 1, 2, 6)
    res = FixedPseudoLabel(confidence_threshold=0.6).label(
        probs, probs.new_zeros(1, 0, 2, 1, 2, 6), torch.zeros(1, 0, 3, dtype=torch.long),
        (0, 0, 0))
    assert res.labels[0, 0, 0].tolist() == [0, 0, 0, 1, 1, 1]
    # confidence of the chosen class: .95 .7 .55 .55 .7 .95
    assert res.weights[0, 0, 0].tolist() == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert res.stats['kept'] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match='confidence_threshold'):
        FixedPseudoLabel(confidence_threshold=1.5)


# ---------------------------------------------------------------- windows


def test_windows_are_fixed_origin_plus_shifts():
    _, mask = _context(batch=2)
    strategy = DynamicPseudoLabel(shift_range=(2, 2))
    origins = strategy.windows(mask, ORIGIN, SIZE, _gen())
    expected = _origins([[0, 2 * h, 2 * w] for _, h, w in DIAGONALS], batch=2)
    assert origins.dtype == torch.long
    assert torch.equal(origins, expected)


def test_windows_respect_room_of_context_mask():
    _, mask = _context(batch=2)
    mask[0, :, :, :ORIGIN[1], :] = 0  # sample 0: no real content above the fixed crop
    mask[1, :, :, :, :ORIGIN[2] - 1] = 0  # sample 1: one voxel of room on the left in w
    room = context_room(mask, ORIGIN, SIZE)
    assert room[0].tolist() == [[0, 0], [0, 3], [3, 3]]
    assert room[1].tolist() == [[0, 0], [3, 3], [1, 3]]

    origins = DynamicPseudoLabel(shift_range=(2, 2)).windows(mask, ORIGIN, SIZE, _gen())
    shifts = origins - torch.tensor(ORIGIN)
    # no negative h shift where the left part is padding; w unaffected
    assert shifts[0].tolist() == [[0, 2, 2], [0, 2, -2], [0, 0, 2], [0, 0, -2]]
    # negative w shifts clipped to the single voxel of room
    assert shifts[1].tolist() == [[0, 2, 2], [0, 2, -1], [0, -2, 2], [0, -2, -1]]
    # every window holds only real content
    for b in range(2):
        for o in origins[b].tolist():
            win = mask[b, 0, o[0]:o[0] + SIZE[0], o[1]:o[1] + SIZE[1], o[2]:o[2] + SIZE[2]]
            assert bool(win.all())


@pytest.mark.parametrize('shift_range, size, expected', [
    (None, (16, 32, 32), [(0, 0), (2, 8), (2, 8)]),
    (None, (80, 112, 112), [(0, 0), (7, 28), (7, 28)]),
    ((0.125, 0.25), (16, 32, 32), [(0, 0), (4, 8), (4, 8)]),
    (((1, 2), (0.25, 0.5)), (16, 32, 32), [(0, 0), (1, 2), (8, 16)]),
    ((3, 5), (16, 32, 32), [(0, 0), (3, 5), (3, 5)]),
])
def test_magnitude_ranges(shift_range, size, expected):
    assert DynamicPseudoLabel(shift_range=shift_range).magnitude_ranges(size) == expected


def test_magnitude_ranges_all_axes_and_bad_range():
    ranges = DynamicPseudoLabel(shift_axes=('d', 'h', 'w')).magnitude_ranges((16, 32, 48))
    assert ranges == [(1, 4), (2, 8), (3, 12)]
    with pytest.raises(ValueError, match='shift_range'):
        DynamicPseudoLabel(shift_range=(5, 2)).magnitude_ranges((16, 32, 32))


@pytest.mark.parametrize('shift_range, lo, hi', [(None, 2, 8), ((0.125, 0.25), 4, 8)])
def test_drawn_magnitudes_stay_in_range(shift_range, lo, hi):
    size, origin = (4, 32, 32), (0, 8, 8)
    mask = torch.ones(64, 1, 4, 48, 48, dtype=torch.uint8)
    strategy = DynamicPseudoLabel(shift_range=shift_range)
    shifts = strategy.windows(mask, origin, size, _gen(1)) - torch.tensor(origin)
    assert shifts.shape == (64, 4, 3)
    assert (shifts[..., 0] == 0).all()
    mags = shifts[..., 1:].abs()
    assert ((mags >= lo) & (mags <= hi)).all()
    assert (mags == mags[:, :1]).all()  # one magnitude per sample, shared by its crops
    assert torch.equal(shifts[..., 1:].sign(), torch.tensor(DIAGONALS)[None, :, 1:].expand(
        64, 4, 2))
    assert len(set(mags[:, 0, 0].tolist())) > 1  # redrawn per sample
    assert {lo, hi} <= set(mags.flatten().tolist())  # both ends reachable


@pytest.mark.parametrize('kwargs', [
    dict(directions='spiral'), dict(num_crops=0), dict(num_crops=5), dict(shift_axes=('x', )),
    dict(shift_axes=()), dict(region='all'), dict(fusion='max'), dict(shift_pad='yes'),
    dict(shift_range=((1, 2), )), dict(directions='diagonal3d', num_crops=8)
])
def test_dynamic_bad_options(kwargs):
    with pytest.raises(ValueError):
        DynamicPseudoLabel(**kwargs)


def test_shift_pad_one_voxel_wide_volume():
    """A volume 1 voxel wide in w, shift drawn 3 (hand-built answer).

    ``ContextCrop3D(crop_size=(2, 4, 1), max_shift=(0, 0, 3))`` on a
    ``(2, 4, 1)`` volume gives a ``(2, 4, 7)`` context region whose only
    real column is w = 3, the fixed crop's (``fixed_origin = (0, 0, 3)``).
    Shifting w by 3 voxels: clipping finds no real content on either side
    and applies shift 0 (window at w = 3); padding applies the drawn shift,
    so the windows start at w = 6 and w = 0 -- 3 voxels away -- and cover
    only voxels marked 0 (padding) in the context mask.
    """
    from fdpl.datasets.transforms import ContextCrop3D
    vol = np.arange(8, dtype=np.float32).reshape(1, 2, 4, 1) + 1
    out = ContextCrop3D(crop_size=(2, 4, 1), max_shift=(0, 0, 3))(dict(img=vol))
    mask = torch.from_numpy(out['context_mask'])[None, None]  # (1, 1, 2, 4, 7)
    assert tuple(out['fixed_origin']) == (0, 0, 3)
    assert mask[0, 0, 0, 0].tolist() == [0, 0, 0, 1, 0, 0, 0]
    ctx = torch.from_numpy(out['img'])[None]  # (1, 1, 2, 4, 7)
    kw = dict(shift_axes=('w', ), shift_range=(3, 3), directions='diagonal')

    clip = DynamicPseudoLabel(**kw).windows(mask, (0, 0, 3), (2, 4, 1), _gen())
    assert clip[0, :, 2].tolist() == [3, 3, 3, 3]  # no room: shift 0

    pad = DynamicPseudoLabel(shift_pad=True, **kw)
    origins = pad.windows(mask, (0, 0, 3), (2, 4, 1), _gen())
    assert origins[0, :, 2].tolist() == [6, 0, 6, 0]  # fixed_origin +3, -3, +3, -3
    assert origins[0, :, :2].eq(0).all()
    windows = crop_windows(mask[:, 0], origins, (2, 4, 1))  # (1, 4, 2, 4, 1)
    assert windows.eq(0).all()  # every voxel they hold is padding, marked 0
    assert crop_windows(ctx, origins, (2, 4, 1)).eq(0).all()  # zero-filled image too

    # no overlap with the 1-voxel fixed crop: COM keeps the fixed label everywhere
    res = pad(threshold_teacher, ctx, mask, (0, 0, 3), (2, 4, 1), generator=_gen())
    assert res.stats['region'] == 0.0 and res.stats['shift_w'] == 3.0
    assert torch.equal(res.labels, (ctx[:, 0, :, :, 3:4] > 0.5).long())


def test_shift_pad_keeps_the_drawn_shift_at_the_volume_border():
    ctx, mask = _context()
    ctx[..., :ORIGIN[2]] = 0
    mask[..., :ORIGIN[2]] = 0  # the volume ends at the fixed crop's left side in w
    clip = DynamicPseudoLabel(shift_range=(2, 2))
    pad = DynamicPseudoLabel(shift_range=(2, 2), shift_pad=True)
    shifts_clip = clip.windows(mask, ORIGIN, SIZE, _gen()) - torch.tensor(ORIGIN)
    shifts_pad = pad.windows(mask, ORIGIN, SIZE, _gen()) - torch.tensor(ORIGIN)
    assert shifts_clip[0].tolist() == [[0, 2, 2], [0, 2, 0], [0, -2, 2], [0, -2, 0]]
    assert shifts_pad[0].tolist() == [[0, 2 * h, 2 * w] for _, h, w in DIAGONALS]
    res_clip = clip(threshold_teacher, ctx, mask, ORIGIN, SIZE, generator=_gen())
    res_pad = pad(threshold_teacher, ctx, mask, ORIGIN, SIZE, generator=_gen())
    # Omega: (8 - 4) x (8 - 4) of 8 x 8 with padding, (8 - 4) x (8 - 2) when clipped
    assert res_pad.stats['region'] == pytest.approx(16 / 64)
    assert res_clip.stats['region'] == pytest.approx(24 / 64)
    assert res_pad.stats['shift_w'] == 2.0 and res_clip.stats['shift_w'] == 1.0
    assert res_pad.stats['shift_h'] == res_clip.stats['shift_h'] == 2.0


# ---------------------------------------------------------------- labels


def test_dynamic_intersection_takes_truth_inside_omega_fixed_outside():
    ctx, mask = _context(batch=2)
    truth = _truth(ctx)
    wrong = 1 - truth  # a fixed label that is wrong everywhere
    strategy = DynamicPseudoLabel(shift_range=(2, 2))
    origins = strategy.windows(mask, ORIGIN, SIZE, _gen())
    res = strategy.label(_onehot(wrong), _window_probs(ctx, origins), origins, ORIGIN)
    omega = _box(2, 6, 2, 6)[None]  # the central box every diagonal crop covers
    expected = torch.where(omega, truth, wrong)
    assert res.labels.dtype == torch.long
    assert torch.equal(res.labels, expected)
    assert res.stats['region'] == pytest.approx(16 / 64)
    assert res.stats['changed'] == pytest.approx(16 / 64)
    assert res.weights is None


def test_dynamic_union_vs_intersection_on_hand_built_windows():
    ctx, _ = _context()
    truth = _truth(ctx)
    wrong = 1 - truth
    origins = _origins([[0, 2, 0], [0, 0, 2]])  # one window shifted in h, one in w
    probs = _window_probs(ctx, origins)
    h_ok = _box(2, 8, 0, 8)  # covered by the h-shifted window
    w_ok = _box(0, 8, 2, 8)
    inter = DynamicPseudoLabel(region='intersection').label(_onehot(wrong), probs, origins,
                                                            ORIGIN)
    union = DynamicPseudoLabel(region='union').label(_onehot(wrong), probs, origins, ORIGIN)
    assert torch.equal(inter.labels[0], torch.where(h_ok & w_ok, truth[0], wrong[0]))
    assert torch.equal(union.labels[0], torch.where(h_ok | w_ok, truth[0], wrong[0]))
    assert union.stats['region'] == pytest.approx(1 - 4 / 64)
    # the four diagonals cover everything under the union rule
    origins = _origins([[0, 2 * h, 2 * w] for _, h, w in DIAGONALS])
    union = DynamicPseudoLabel(region='union').label(
        _onehot(wrong), _window_probs(ctx, origins), origins, ORIGIN)
    assert torch.equal(union.labels, truth)


def _soft_windows(p1_per_window):
    """Windows at the fixed origin with a constant foreground probability each."""
    p1 = torch.tensor(p1_per_window).view(1, -1, 1, 1, 1, 1).expand(1, -1, 1, *SIZE)
    return torch.cat([1 - p1, p1], dim=2), _origins([[0, 0, 0]] * len(p1_per_window))


@pytest.mark.parametrize('p1, fusion, include_fixed, label', [
    ([0.9, 0.4, 0.4], 'mean', False, 1),  # mean 0.567
    ([0.9, 0.4, 0.4], 'vote', False, 0),  # two votes against one
    ([0.9, 0.4, 0.4], 'mean', True, 0),  # (0.9 + 0.4 + 0.4 + 0.0) / 4 = 0.425
    ([0.9, 0.4], 'vote', False, 1),  # tie, broken by the mean probability 0.65
    ([0.9, 0.4], 'vote', True, 0),  # the fixed crop's vote breaks the tie
])
def test_dynamic_fusion_options(p1, fusion, include_fixed, label):
    probs, origins = _soft_windows(p1)
    fixed = _onehot(torch.zeros(1, *SIZE, dtype=torch.long))  # p1 = 0 on the fixed crop
    alternative = 'vote' if fusion == 'mean' else 'mean'
    res = DynamicPseudoLabel(fusion=fusion, include_fixed=include_fixed).label(
        fixed, probs, origins, ORIGIN)
    assert (res.labels == label).all()
    assert res.stats['region'] == 1.0
    if not include_fixed and len(p1) == 3:  # the two rules disagree on this case
        other = DynamicPseudoLabel(fusion=alternative).label(fixed, probs, origins, ORIGIN)
        assert (other.labels == 1 - label).all()


def test_dynamic_num_crops_one():
    ctx, mask = _context(batch=8)
    truth = _truth(ctx)
    wrong = 1 - truth
    strategy = DynamicPseudoLabel(num_crops=1, shift_range=(2, 2))
    origins = strategy.windows(mask, ORIGIN, SIZE, _gen(3))
    assert origins.shape == (8, 1, 3)
    shifts = (origins - torch.tensor(ORIGIN))[:, 0]
    assert shifts.abs()[:, 1:].eq(2).all() and (shifts[:, 0] == 0).all()
    assert len({tuple(s) for s in shifts.tolist()}) > 1  # a random diagonal per sample
    res = strategy.label(_onehot(wrong), _window_probs(ctx, origins), origins, ORIGIN)
    for b, (_, sh, sw) in enumerate(shifts.tolist()):
        covered = _box(max(sh, 0), 8 + min(sh, 0), max(sw, 0), 8 + min(sw, 0))
        assert torch.equal(res.labels[b], torch.where(covered, truth[b], wrong[b]))


def test_dynamic_axis_directions():
    ctx, mask = _context()
    truth = _truth(ctx)
    strategy = DynamicPseudoLabel(directions='axis', shift_range=(2, 2))
    origins = strategy.windows(mask, ORIGIN, SIZE, _gen())
    assert torch.equal(origins, _origins([[0, 2, 0], [0, -2, 0], [0, 0, 2], [0, 0, -2]]))
    res = strategy.label(_onehot(1 - truth), _window_probs(ctx, origins), origins, ORIGIN)
    omega = _box(2, 6, 2, 6)
    assert torch.equal(res.labels[0], torch.where(omega, truth[0], 1 - truth[0]))


def test_temporary_label_lands_at_the_right_offset():
    """One hot voxel of the context appears where it sits in the fixed frame."""
    hot_ctx = (1, ORIGIN[1] + 4, ORIGIN[2] + 5)  # context coordinates
    hot_fixed = (1, 4, 5)  # the same voxel in the fixed crop's frame
    ctx = torch.zeros(4, 1, *CONTEXT)
    ctx[:, 0, hot_ctx[0], hot_ctx[1], hot_ctx[2]] = 1.0
    mask = torch.ones(4, 1, *CONTEXT)
    fixed = _onehot(torch.zeros(4, *SIZE, dtype=torch.long))  # the fixed label misses it
    strategy = DynamicPseudoLabel(directions='axis', num_crops=1, shift_range=(2, 2))
    origins = strategy.windows(mask, ORIGIN, SIZE, _gen(5))
    assert len({tuple(o) for o in origins[:, 0].tolist()}) > 1  # different windows
    res = strategy.label(fixed, _window_probs(ctx, origins), origins, ORIGIN)
    for b in range(4):
        assert res.labels[b].sum() == 1
        assert res.labels[b].nonzero()[0].tolist() == list(hot_fixed)


def test_dynamic_confidence_weights_follow_fused_probs():
    probs, origins = _soft_windows([0.9, 0.4, 0.4])
    fixed = _onehot(torch.zeros(1, *SIZE, dtype=torch.long))
    res = DynamicPseudoLabel(confidence_threshold=0.6).label(fixed, probs, origins, ORIGIN)
    assert res.weights is not None and (res.weights == 0).all()  # fused p1 = 0.567
    assert res.stats['kept'] == 0.0
    res = DynamicPseudoLabel(confidence_threshold=0.55).label(fixed, probs, origins, ORIGIN)
    assert (res.weights == 1).all()


# ---------------------------------------------------------------- two phases


def smooth_teacher(x: torch.Tensor) -> torch.Tensor:
    """A non-pointwise teacher: windows disagree near their borders."""
    k = F.avg_pool3d(x, 3, stride=1, padding=1)
    return torch.softmax(torch.cat([-k, k], dim=1) * 8 - 4, dim=1)


@pytest.mark.parametrize('strategy', [
    FixedPseudoLabel(),
    DynamicPseudoLabel(),
    DynamicPseudoLabel(directions='diagonal3d', num_crops=3, shift_axes=('d', 'h', 'w'),
                       region='union', fusion='vote', include_fixed=True,
                       confidence_threshold=0.7),
])
def test_two_phase_api_equals_call(strategy):
    size, origin = (8, 32, 32), (2, 8, 8)
    ctx = torch.rand(2, 1, 12, 48, 48, generator=_gen(7))
    mask = torch.ones(2, 1, 12, 48, 48)
    mask[1, :, :, :, :5] = 0
    g1, g2 = _gen(11), _gen(11)
    origins = strategy.windows(mask, origin, size, g1)
    fixed = torch.tensor(origin).view(1, 1, 3).expand(2, 1, 3)
    fixed_probs = _window_probs_any(ctx, fixed, size)[:, 0]
    window_probs = _window_probs_any(ctx, origins, size)
    two_phase = strategy.label(fixed_probs, window_probs, origins, origin)
    direct = strategy(smooth_teacher, ctx, mask, origin, size, generator=g2)
    assert torch.equal(two_phase.labels, direct.labels)
    assert torch.allclose(two_phase.probs, direct.probs)
    assert (two_phase.weights is None) == (direct.weights is None)
    if direct.weights is not None:
        assert torch.equal(two_phase.weights, direct.weights)
    assert two_phase.stats == pytest.approx(direct.stats)
    assert torch.equal(g1.get_state(), g2.get_state())  # the same draws were consumed


def _window_probs_any(ctx, origins, size):
    crops = crop_windows(ctx, origins, size)
    b, n = crops.shape[:2]
    probs = smooth_teacher(crops.flatten(0, 1))
    return probs.view(b, n, *probs.shape[1:])


# ---------------------------------------------------------------- CUT


def _bounding_box(mask: torch.Tensor):
    idx = mask.nonzero()
    lo, hi = idx.min(0).values, idx.max(0).values + 1
    return lo.tolist(), hi.tolist()


@pytest.mark.parametrize('batch', [2, 4, 6])
def test_cutmix_draw_pairs_share_a_box(batch):
    size = (4, 16, 16)
    masks, partners = CutMix().draw(batch, size, _gen(batch))
    assert masks.shape == (batch, *size) and masks.dtype == torch.float32
    assert partners.shape == (batch, ) and partners.dtype == torch.long
    ar = torch.arange(batch)
    assert (partners != ar).all()  # no fixed point
    assert torch.equal(partners[partners], ar)  # an involution
    for b in range(batch):
        m = masks[b]
        assert torch.equal(m, masks[partners[b]])
        assert set(m.unique().tolist()) <= {0.0, 1.0}
        assert m.sum() > 0
        lo, hi = _bounding_box(m)
        volume = math.prod(h - l for l, h in zip(lo, hi))
        assert int(m.sum()) == volume  # the ones form exactly one box
        assert lo[0] == 0 and hi[0] == size[0]  # full depth
        assert m[:, lo[1]:hi[1], lo[2]:hi[2]].all()


def test_cutmix_cuboid_prob_zero_and_determinism():
    size = (8, 16, 16)
    depths = []
    for seed in range(6):
        masks, _ = CutMix(full_depth=False).draw(2, size, _gen(seed))
        lo, hi = _bounding_box(masks[0])
        assert int(masks[0].sum()) == math.prod(h - l for l, h in zip(lo, hi))
        depths.append(hi[0] - lo[0])
    assert min(depths) < size[0]  # a 3D cuboid, not always all slices

    masks, partners = CutMix(prob=0.0).draw(4, size, _gen())
    assert (masks == 0).all()
    assert torch.equal(partners[partners], torch.arange(4))

    a = CutMix().draw(4, size, _gen(3))
    b = CutMix().draw(4, size, _gen(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    others = [CutMix().draw(4, size, _gen(s)) for s in range(4, 8)]
    assert any(not torch.equal(a[0], o[0]) for o in others)

    with pytest.raises(ValueError, match='prob'):
        CutMix(prob=1.5)
    with pytest.raises(ValueError, match='beta'):
        CutMix(beta=(0, 4))
    with pytest.raises(ValueError):
        CutMix().draw(1, size)


def test_cutmix_apply_mixes_labels_like_images_and_restores():
    size = (4, 16, 16)
    x = torch.rand(4, 1, *size, generator=_gen(1))
    y = (x[:, 0] > 0.5).long()
    cut = CutMix()
    masks, partners = cut.draw(4, size, _gen(2))
    x_cut, y_cut = cut.apply(x, masks, partners), cut.apply(y, masks, partners)
    assert y_cut.dtype == torch.long
    for b in range(4):
        m = masks[b].bool()
        p = int(partners[b])
        assert torch.equal(x_cut[b, 0], torch.where(m, x[p, 0], x[b, 0]))
        assert torch.equal(y_cut[b], torch.where(m, y[p], y[b]))
    assert torch.equal(y_cut, (x_cut[:, 0] > 0.5).long())  # the same box for both
    assert torch.equal(cut.apply(x_cut, masks, partners), x)  # pairs: mixing twice restores
    assert torch.equal(cut.apply(y_cut, masks, partners), y)


# ---------------------------------------------------------------- plugins

PLUGIN_NAME = 'ConstantPseudoLabelForStrategyTests'


class ConstantPseudoLabel(BasePseudoLabeler):
    """A plugin strategy: one constant class everywhere, one extra window."""

    def __init__(self, value: int = 1, confidence_threshold=None) -> None:
        super().__init__(confidence_threshold)
        self.value = value

    def windows(self, context_mask, fixed_origin, fixed_size, generator=None):
        return torch.tensor(fixed_origin).view(1, 1, 3).expand(context_mask.shape[0], 1, 3)

    def label(self, fixed_probs, window_probs, origins, fixed_origin):
        assert window_probs.shape[1] == 1
        labels = torch.full_like(fixed_probs[:, 0], self.value, dtype=torch.long)
        return PseudoLabel(labels=labels, stats=dict(value=float(self.value)))


@pytest.fixture
def plugin():
    PSEUDO_LABELERS.register_module(name=PLUGIN_NAME, module=ConstantPseudoLabel)
    yield PLUGIN_NAME
    PSEUDO_LABELERS._module_dict.pop(PLUGIN_NAME, None)


def test_plugin_strategy_builds_from_registry(plugin):
    strategy = PSEUDO_LABELERS.build(dict(type=plugin, value=1))
    assert isinstance(strategy, ConstantPseudoLabel)
    ctx, mask = _context(batch=2)
    res = strategy(threshold_teacher, ctx, mask, ORIGIN, SIZE)
    assert res.labels.shape == (2, *SIZE) and (res.labels == 1).all()
    assert res.stats == {'value': 1.0}
    # model.semi_train_cfg can name it like a built-in strategy
    from fdpl.models.segmentors.semi_train_cfg import (build_strategies,
                                                       normalize_semi_train_cfg)
    semi = normalize_semi_train_cfg(dict(strategies=dict(const=dict(type=plugin, value=0))))
    assert semi.unsup_weights == dict(const=1.0)
    strategies = build_strategies(semi)
    assert isinstance(strategies['const'], ConstantPseudoLabel)
    assert strategies['const'].value == 0
    # the built-in strategies are found through the same registry
    assert isinstance(PSEUDO_LABELERS.build(dict(type='DynamicPseudoLabel')), DynamicPseudoLabel)
    assert isinstance(PSEUDO_LABELERS.build(dict(type='CutMix')), CutMix)


def test_plugin_is_removed_after_use():
    assert PLUGIN_NAME not in PSEUDO_LABELERS.module_dict
