"""Tests of the pseudo-label geometry on hand-built arrays."""
import pytest
import torch

from fdpl.pseudo_labels.functional import (box_to_mask, com_merge, context_margin,
                                           crop_windows, cut_mix, cut_unmix, cutmix_box,
                                           fuse_temporary, overlap_region, pair_masks,
                                           pair_partners, pseudo_label_stats, region_room,
                                           sample_shifts, shift_into_frame, shift_magnitudes)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _diagonal(s_h: int, s_w: int) -> torch.Tensor:
    return torch.tensor([[[0, s_h, s_w], [0, s_h, -s_w], [0, -s_h, s_w], [0, -s_h, -s_w]]])


# ---------------------------------------------------------------- shifts


def test_sample_shifts_diagonal_signs_and_shared_magnitude():
    shifts = sample_shifts(16, (4, 8, 8), magnitude=((0, 0), (2, 8), (2, 8)), generator=_gen())
    assert shifts.shape == (16, 4, 3) and shifts.dtype == torch.long
    assert (shifts[..., 0] == 0).all()
    mags = shifts.abs()
    # one magnitude per sample and axis, shared by the four crops
    assert (mags == mags[:, :1]).all()
    assert ((mags[..., 1:] >= 2) & (mags[..., 1:] <= 8)).all()
    signs = shifts.sign()[0, :, 1:].tolist()
    assert signs == [[1, 1], [1, -1], [-1, 1], [-1, -1]]
    # samples draw their own magnitudes
    assert len({tuple(m) for m in mags[:, 0, 1:].tolist()}) > 1


def test_sample_shifts_axis_and_3d():
    axis = sample_shifts(3, (0, 5, 5), 'axis', magnitude=((0, 0), (3, 3), (5, 5)))
    assert axis[0].tolist() == [[0, 3, 0], [0, -3, 0], [0, 0, 5], [0, 0, -5]]
    corners = sample_shifts(2, (2, 2, 2), 'diagonal3d', num_crops=8)
    assert corners.shape == (2, 8, 3)
    assert {tuple(c) for c in corners[0].tolist()} == {(a, b, c) for a in (-2, 2)
                                                      for b in (-2, 2) for c in (-2, 2)}
    subset = sample_shifts(32, (2, 2, 2), 'diagonal3d', num_crops=4, generator=_gen(1))
    assert subset.shape == (32, 4, 3)
    for crops in subset.tolist():
        assert len({tuple(c) for c in crops}) == 4
    assert len({tuple(map(tuple, crops)) for crops in subset.tolist()}) > 1


def test_sample_shifts_subset_of_diagonals():
    shifts = sample_shifts(8, (0, 4, 4), num_crops=2, magnitude=((0, 0), (4, 4), (4, 4)),
                           generator=_gen(2))
    assert shifts.shape == (8, 2, 3)
    assert all(crops[0] != crops[1] for crops in shifts.tolist())


def test_sample_shifts_clipping_with_room():
    room = torch.tensor([
        [[0, 0], [0, 8], [3, 8]],  # no room below in h, only 3 below in w
        [[0, 0], [8, 8], [8, 8]],  # room everywhere
    ])
    shifts = sample_shifts(2, (0, 6, 6), magnitude=((0, 0), (5, 5), (5, 5)), room=room)
    assert shifts[0].tolist() == [[0, 5, 5], [0, 5, -3], [0, 0, 5], [0, 0, -3]]
    assert shifts[1].tolist() == [[0, 5, 5], [0, 5, -5], [0, -5, 5], [0, -5, -5]]
    # max_shift clips magnitudes drawn above it
    big = sample_shifts(1, (0, 2, 3), magnitude=((0, 0), (9, 9), (9, 9)))
    assert big[0].tolist() == [[0, 2, 3], [0, 2, -3], [0, -2, 3], [0, -2, -3]]


def test_sample_shifts_deterministic_under_seed():
    kwargs = dict(max_shift=(2, 8, 8), directions='diagonal3d', num_crops=4,
                  magnitude=((1, 2), (2, 8), (2, 8)))
    a = sample_shifts(4, generator=_gen(7), **kwargs)
    b = sample_shifts(4, generator=_gen(7), **kwargs)
    c = sample_shifts(4, generator=_gen(8), **kwargs)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize('kwargs', [
    dict(directions='spiral'),
    dict(num_crops=5),
    dict(num_crops=0),
    dict(magnitude=((0, 0), (4, 2), (1, 1))),
    dict(magnitude=((0, 0), (1, 1))),
    dict(room=torch.zeros(3, 3, 2, dtype=torch.long)),
    dict(room=-torch.ones(2, 3, 2, dtype=torch.long)),
])
def test_sample_shifts_bad_input(kwargs):
    with pytest.raises(ValueError, match='sample_shifts'):
        sample_shifts(2, (0, 4, 4), **kwargs)


@pytest.mark.parametrize('shift_range, axes, size, expected', [
    (None, ('h', 'w'), (32, 64, 64), ((0, 0), (4, 16), (4, 16))),  # LA at half resolution
    (None, ('h', 'w'), (80, 112, 112), ((0, 0), (7, 28), (7, 28))),
    ((4, 16), ('w', 'h'), (32, 64, 64), ((0, 0), (4, 16), (4, 16))),
    ([4, 24], ('h', 'w'), (32, 64, 64), ((0, 0), (4, 24), (4, 24))),  # a list from the CLI
    (((1, 2), (0.25, 0.5)), ('h', 'w'), (16, 32, 32), ((0, 0), (1, 2), (8, 16))),
    ((2, 3), (0, 1, 2), (16, 32, 32), ((2, 3), (2, 3), (2, 3))),
])
def test_shift_magnitudes_and_context_margin(shift_range, axes, size, expected):
    assert shift_magnitudes(shift_range, axes, size) == expected
    assert context_margin(shift_range, axes, size) == tuple(hi for _, hi in expected)


@pytest.mark.parametrize('shift_range, axes', [
    ((5, 2), ('h', )), (((1, 2), ), ('h', 'w')), ('4,16', ('h', )), ((1, 2), ('x', )),
    ((1, 2), ()), ((1, 2), ('h', 'h')),
])
def test_shift_magnitudes_bad_input(shift_range, axes):
    with pytest.raises(ValueError):
        shift_magnitudes(shift_range, axes, (16, 32, 32))


def test_region_room():
    assert region_room((2, 4, 7), (0, 0, 3), (2, 4, 1)) == ((0, 0), (0, 0), (3, 3))
    with pytest.raises(ValueError, match='does not fit'):
        region_room((2, 4, 7), (0, 0, 4), (2, 4, 4))


# ---------------------------------------------------------------- windows


def test_crop_windows_equals_slicing():
    vol = torch.arange(2 * 2 * 6 * 8 * 8, dtype=torch.float32).reshape(2, 2, 6, 8, 8)
    origins = torch.tensor([[[0, 0, 0], [1, 2, 3]], [[2, 4, 4], [0, 1, 0]]])
    out = crop_windows(vol, origins, (4, 4, 4))
    assert out.shape == (2, 2, 2, 4, 4, 4)
    for b in range(2):
        for k in range(2):
            d, h, w = origins[b, k].tolist()
            assert torch.equal(out[b, k], vol[b, :, d:d + 4, h:h + 4, w:w + 4])
    labels = crop_windows(vol[:, 0].long(), origins, (4, 4, 4))
    assert labels.shape == (2, 2, 4, 4, 4) and labels.dtype == torch.long
    assert torch.equal(labels, out[:, :, 0].long())


def test_crop_windows_from_context_matches_fixed_plus_shift():
    size, max_shift = (4, 6, 6), (0, 2, 2)
    vol = torch.rand(1, 1, 4, 10, 10, generator=_gen())
    fixed_origin = torch.tensor(max_shift)
    shifts = _diagonal(2, 1)
    out = crop_windows(vol, fixed_origin + shifts, size)
    fixed = crop_windows(vol, fixed_origin.view(1, 1, 3), size)[:, 0]
    assert torch.equal(fixed[0], vol[0, :, 0:4, 2:8, 2:8])
    assert torch.equal(out[0, 1], vol[0, :, 0:4, 4:10, 1:7])


def test_crop_windows_out_of_range():
    vol = torch.zeros(1, 1, 4, 8, 8)
    with pytest.raises(ValueError, match=r'origin \(0, 5, 0\)'):
        crop_windows(vol, torch.tensor([[[0, 0, 0], [0, 5, 0]]]), (4, 4, 4))
    with pytest.raises(ValueError, match=r'origin \(0, -1, 0\)'):
        crop_windows(vol, torch.tensor([[[0, -1, 0]]]), (4, 4, 4))


# ---------------------------------------------------------------- frame


def test_hot_voxel_shift():
    probs = torch.zeros(1, 1, 1, 3, 4, 4)
    probs[0, 0, 0, 1, 1, 1] = 1.0
    aligned, valid = shift_into_frame(probs, torch.tensor([[[0, 1, 0]]]))
    expected = torch.zeros(3, 4, 4)
    expected[1, 2, 1] = 1.0
    assert torch.equal(aligned[0, 0, 0], expected)
    assert not valid[0, 0, :, 0].any()
    assert valid[0, 0, :, 1:].all()
    assert aligned.dtype == probs.dtype


def test_shift_then_inverse_restores_valid_part():
    probs = torch.rand(2, 4, 2, 3, 8, 8, generator=_gen())
    shifts = torch.cat([_diagonal(2, 3), _diagonal(1, 0)])
    aligned, valid = shift_into_frame(probs, shifts)
    back, back_valid = shift_into_frame(aligned, -shifts)
    # v is restored iff v + shift lies in the crop, i.e. the back move found a source
    keep = back_valid[:, :, None]
    assert torch.equal(back, probs * keep)
    # crop (0, +2, +3) keeps all but its last 2 rows and 3 columns
    assert back_valid[0, 0].sum() == 3 * 6 * 5
    assert back_valid[0, 0, :, :6, :5].all()
    # crop (0, -1, 0) keeps all but its first row
    assert back_valid[1, 2].sum() == 3 * 7 * 8 and not back_valid[1, 2, :, 0].any()


def test_shift_beyond_size_is_empty():
    probs = torch.ones(1, 1, 1, 2, 3, 3)
    aligned, valid = shift_into_frame(probs, torch.tensor([[[0, 3, 0]]]))
    assert not aligned.any() and not valid.any()


@pytest.mark.parametrize('s_h,s_w', [(1, 1), (2, 3), (3, 1)])
def test_four_diagonals_leave_central_box(s_h, s_w):
    d, h, w = 2, 8, 10
    probs = torch.ones(1, 4, 1, d, h, w)
    _, valid = shift_into_frame(probs, _diagonal(s_h, s_w))
    inter = overlap_region(valid, 'intersection')
    expected = torch.zeros(1, d, h, w, dtype=torch.bool)
    expected[:, :, s_h:h - s_h, s_w:w - s_w] = True
    assert torch.equal(inter, expected)
    assert overlap_region(valid, 'union').all()


def test_overlap_region_empty_and_bad_mode():
    valid = torch.zeros(2, 0, 2, 3, 3, dtype=torch.bool)
    assert not overlap_region(valid).any()
    assert not overlap_region(valid, 'union').any()
    with pytest.raises(ValueError, match='overlap_region'):
        overlap_region(torch.ones(1, 1, 1, 1, 1, dtype=torch.bool), 'sum')


def test_batch_samples_independent():
    probs = torch.rand(3, 4, 2, 3, 6, 6, generator=_gen())
    shifts = torch.cat([_diagonal(1, 2), _diagonal(2, 1), _diagonal(0, 3)])
    aligned, valid = shift_into_frame(probs, shifts)
    labels, fused = fuse_temporary(aligned, valid)
    for b in range(3):
        a_b, v_b = shift_into_frame(probs[b:b + 1], shifts[b:b + 1])
        assert torch.equal(a_b, aligned[b:b + 1]) and torch.equal(v_b, valid[b:b + 1])
        l_b, f_b = fuse_temporary(a_b, v_b)
        assert torch.equal(l_b, labels[b:b + 1]) and torch.allclose(f_b, fused[b:b + 1])


# ---------------------------------------------------------------- fusion and COM


def _three_crops():
    """One row of 3 voxels, 2 classes; columns: fg prob of crops 1..3."""
    fg = torch.tensor([
        [0.6, 0.6, 0.0],  # voxel 0: vote 1 (2 of 3), mean 0.4 -> 0
        [0.9, 0.2, 0.2],  # voxel 1: vote 0, mean 0.433 -> 0
        [0.4, 0.9, 0.8],  # voxel 2: both 1
    ]).T  # (K, 3)
    probs = torch.stack([1 - fg, fg], dim=1).reshape(1, 3, 2, 1, 1, 3)
    valid = torch.ones(1, 3, 1, 1, 3, dtype=torch.bool)
    return probs, valid


def test_fuse_mean_vs_vote():
    probs, valid = _three_crops()
    mean_labels, mean_probs = fuse_temporary(probs, valid, 'mean')
    vote_labels, vote_probs = fuse_temporary(probs, valid, 'vote')
    assert mean_labels.flatten().tolist() == [0, 0, 1]
    assert vote_labels.flatten().tolist() == [1, 0, 1]
    assert torch.allclose(mean_probs[0, 1].flatten(), torch.tensor([0.4, 1.3 / 3, 0.7]))
    assert torch.equal(mean_probs, vote_probs)
    assert mean_labels.dtype == torch.long and mean_labels.shape == (1, 1, 1, 3)


def test_fuse_counts_only_covering_crops_and_ties():
    probs, valid = _three_crops()
    valid = valid.clone()
    valid[0, 2, 0, 0, 0] = False  # voxel 0 now covered by crops 1, 2 only: mean 0.6 -> 1
    valid[0, :, 0, 0, 1] = False  # voxel 1 uncovered -> label 0, prob 0
    valid[0, 1, 0, 0, 2] = False  # voxel 2: crops 1, 3 tie (0 vs 1), mean 0.6 -> 1
    labels, fused = fuse_temporary(probs, valid, 'mean')
    assert labels.flatten().tolist() == [1, 0, 1]
    assert fused[0, :, 0, 0, 1].tolist() == [0.0, 0.0]
    vote, _ = fuse_temporary(probs, valid, 'vote')
    assert vote.flatten().tolist() == [1, 0, 1]
    # a tie where the mean favours background
    probs[0, 2, :, 0, 0, 2] = torch.tensor([0.4, 0.6])  # crop 3 fg 0.6; crop 1 fg 0.4
    probs[0, 0, :, 0, 0, 2] = torch.tensor([0.9, 0.1])
    vote, _ = fuse_temporary(probs, valid, 'vote')
    assert vote.flatten().tolist()[2] == 0


def test_fuse_region_and_fixed_probs():
    probs, valid = _three_crops()
    region = torch.tensor([[[[True, False, True]]]])
    labels, fused = fuse_temporary(probs, valid, region=region)
    assert labels.flatten().tolist() == [0, 0, 1]
    assert not fused[..., 1].any()
    fixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 1, 3)
    labels, fused = fuse_temporary(probs, valid, fixed_probs=fixed)
    # voxel 0: (0.4*3 + 0) / 4 = 0.3 -> 0; voxel 1: (1.3 + 1) / 4 = 0.575 -> 1
    assert labels.flatten().tolist() == [0, 1, 1]
    assert torch.allclose(fused[0, 1].flatten(), torch.tensor([0.3, 0.575, 3.1 / 4]))
    vote, _ = fuse_temporary(probs, valid, 'vote', fixed_probs=fixed)
    # voxel 0: 2 vs 2 votes, mean 0.3 -> 0; voxel 1: 2 vs 2, mean 0.575 -> 1
    assert vote.flatten().tolist() == [0, 1, 1]


def test_com_merge():
    fixed = torch.zeros(2, 1, 4, 4, dtype=torch.long)
    temporary = torch.ones(2, 1, 4, 4, dtype=torch.long)
    ones = torch.ones(2, 1, 4, 4, dtype=torch.bool)
    assert torch.equal(com_merge(fixed, temporary, ones), temporary)
    assert torch.equal(com_merge(fixed, temporary, ~ones), fixed)
    fixed = torch.tensor([[[[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]]])
    temporary = torch.tensor([[[[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]]])
    region = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    region[..., 1:3, 1:3] = True
    expected = torch.tensor([[[[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]]]])
    assert torch.equal(com_merge(fixed, temporary, region), expected)
    assert torch.equal(com_merge(fixed, temporary, region.float()), expected)
    with pytest.raises(ValueError, match='com_merge'):
        com_merge(fixed, temporary, region[..., :3])


def test_pipeline_on_context_gives_consistent_labels():
    """A teacher that reads the image exactly makes every crop agree."""
    size, max_shift = (2, 6, 6), (0, 2, 2)
    context = (torch.rand(1, 1, 2, 10, 10, generator=_gen()) > 0.5).float()
    shifts = sample_shifts(1, max_shift, magnitude=((0, 0), (1, 2), (1, 2)), generator=_gen(3))
    origin = torch.tensor(max_shift)
    crops = crop_windows(context, origin + shifts, size)  # (1, 4, 1, d, h, w)
    probs = torch.cat([1 - crops, crops], dim=2)
    aligned, valid = shift_into_frame(probs, shifts)
    region = overlap_region(valid)
    temporary, _ = fuse_temporary(aligned, valid, region=region)
    fixed = crop_windows(context, origin.view(1, 1, 3), size)[:, 0, 0].long()
    assert torch.equal(com_merge(fixed, temporary, region), fixed)
    assert region.sum() > 0


# ---------------------------------------------------------------- CUT


def test_cutmix_box_rule_and_determinism():
    size = (8, 32, 32)
    boxes = [cutmix_box(size, generator=_gen(s)) for s in range(50)]
    for d0, h0, w0, d1, h1, w1 in boxes:
        assert (d0, d1) == (0, 8)
        assert 0 <= h0 <= h1 <= 32 and 0 <= w0 <= w1 <= 32
        assert h1 - h0 <= 32 and w1 - w0 <= 32
    assert cutmix_box(size, generator=_gen(3)) == boxes[3]
    assert len(set(boxes)) > 1
    # Beta(4, 4) has mean 0.5: the unclipped side is about side * sqrt(0.5)
    cuboid = cutmix_box(size, generator=_gen(4), full_depth=False)
    assert 0 <= cuboid[0] <= cuboid[3] <= 8


def test_cutmix_box_extreme_beta():
    # lambda close to 0 -> box side = full side, clipped at the border
    box = cutmix_box((4, 16, 16), generator=_gen(0), beta=(0.01, 100.0))
    assert box[4] - box[1] >= 8 and box[5] - box[2] >= 8
    # lambda close to 1 -> empty box
    box = cutmix_box((4, 16, 16), generator=_gen(0), beta=(100.0, 0.01))
    assert box[1] == box[4] or box[2] == box[5]
    with pytest.raises(ValueError, match='cutmix_box'):
        cutmix_box((4, 16, 16), beta=(0.0, 1.0))


def test_box_to_mask():
    mask = box_to_mask((0, 1, 2, 2, 3, 5), (2, 4, 6))
    assert mask.dtype == torch.float32 and mask.shape == (2, 4, 6)
    assert mask.sum() == 2 * 2 * 3
    assert mask[:, 1:3, 2:5].all()
    with pytest.raises(ValueError, match='box_to_mask'):
        box_to_mask((0, 0, 0, 3, 1, 1), (2, 4, 6))


def test_pair_partners():
    assert pair_partners(2, generator=_gen()).tolist() == [1, 0]
    for seed in range(10):
        p = pair_partners(6, generator=_gen(seed))
        assert sorted(p.tolist()) == list(range(6))
        assert torch.equal(p[p], torch.arange(6))  # involution
        assert (p != torch.arange(6)).all()  # no fixed point
        q = pair_partners(5, generator=_gen(seed))
        assert sorted(q.tolist()) == list(range(5))
        b, seen = 0, []
        for _ in range(5):  # one cycle through all samples
            seen.append(b)
            b = q[b].item()
        assert b == 0 and sorted(seen) == list(range(5))
    assert torch.equal(pair_partners(6, generator=_gen(1)), pair_partners(6, generator=_gen(1)))
    with pytest.raises(ValueError, match='two images'):
        pair_partners(1)


def test_pair_masks_cycle_shares_first_mask():
    size = (1, 4, 4)
    boxes = [(0, 0, 0, 1, 1, 1), (0, 0, 0, 1, 2, 2), (0, 0, 0, 1, 3, 3), (0, 0, 0, 1, 4, 4)]
    masks = pair_masks(boxes, torch.tensor([2, 3, 0, 1]), size)
    assert masks.shape == (4, 1, 4, 4)
    assert [m.sum().item() for m in masks] == [1, 4, 1, 4]
    masks = pair_masks(boxes[:3], torch.tensor([1, 2, 0]), size)
    assert [m.sum().item() for m in masks] == [1, 1, 1]
    with pytest.raises(ValueError, match='size'):
        pair_masks(boxes, torch.tensor([1, 0, 3, 2]))


def test_cut_of_zero_and_one_volumes_gives_complements():
    size = (4, 8, 8)
    box = cutmix_box(size, generator=_gen(5))
    volume = (box[3] - box[0]) * (box[4] - box[1]) * (box[5] - box[2])
    assert volume > 0
    x = torch.stack([torch.zeros(1, *size), torch.ones(1, *size)])
    partners = torch.tensor([1, 0])
    masks = pair_masks([box, box], partners, size)
    mixed = cut_mix(x, masks, partners)
    assert mixed[0].sum() == volume
    assert torch.equal(mixed[0] + mixed[1], torch.ones(2, 1, *size)[0])
    assert torch.equal(mixed[0, 0], masks[0])


@pytest.mark.parametrize('batch', [2, 3, 4])
def test_mix_unmix_restores_images_and_labels(batch):
    size = (2, 8, 8)
    g = _gen(batch)
    images = torch.rand(batch, 1, *size, generator=g)
    labels = torch.randint(0, 3, (batch, *size), generator=g)
    partners = pair_partners(batch, generator=g)
    masks = pair_masks([cutmix_box(size, generator=g) for _ in range(batch)], partners, size)
    x_cut = cut_mix(images, masks, partners)
    y_cut = cut_mix(labels, masks, partners)
    assert y_cut.dtype == torch.long
    assert torch.allclose(cut_unmix(x_cut, masks, partners), images)
    assert torch.equal(cut_unmix(y_cut, masks, partners), labels)
    # labels follow the images: each mixed voxel comes from the same source sample
    inside = masks.bool()
    for b in range(batch):
        src = partners[b].item()
        assert torch.equal(x_cut[b, 0][inside[b]], images[src, 0][inside[b]])
        assert torch.equal(y_cut[b][inside[b]], labels[src][inside[b]])
        assert torch.equal(x_cut[b, 0][~inside[b]], images[b, 0][~inside[b]])
        assert torch.equal(y_cut[b][~inside[b]], labels[b][~inside[b]])
    if batch % 2 == 0:  # involution: mixing twice restores
        assert torch.equal(cut_mix(y_cut, masks, partners), labels)


def test_cut_mix_rejects_asymmetric_masks_and_bad_partners():
    x = torch.zeros(2, 1, 1, 2, 2)
    masks = torch.zeros(2, 1, 2, 2)
    masks[0, 0, 0, 0] = 1
    with pytest.raises(ValueError, match='pair'):
        cut_mix(x, masks, torch.tensor([1, 0]))
    # along a 3-cycle masks may differ for mixing, not for unmixing
    x3 = torch.rand(3, 1, 1, 2, 2, generator=_gen())
    masks3 = torch.zeros(3, 1, 2, 2)
    masks3[0, 0, 0, 0] = 1
    cycle = torch.tensor([1, 2, 0])
    mixed = cut_mix(x3, masks3, cycle)
    assert mixed[0, 0, 0, 0, 0] == x3[1, 0, 0, 0, 0] and torch.equal(mixed[1:], x3[1:])
    with pytest.raises(ValueError, match='cycle'):
        cut_unmix(mixed, masks3, cycle)
    with pytest.raises(ValueError, match='permutation'):
        cut_mix(x, torch.zeros(2, 1, 2, 2), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match='binary'):
        cut_mix(x.long(), torch.full((2, 1, 2, 2), 0.5), torch.tensor([1, 0]))


# ---------------------------------------------------------------- stats


def test_pseudo_label_stats():
    labels = torch.tensor([[[[1, 1, 0, 0]]], [[[0, 0, 0, 0]]]])
    reference = torch.tensor([[[[1, 0, 0, 0]]], [[[0, 0, 0, 1]]]])
    stats = pseudo_label_stats(labels)
    assert stats == {'fg_fraction': 2 / 8}
    stats = pseudo_label_stats(labels, reference)
    assert stats['dice'] == pytest.approx(2 * 1 / (2 + 2))
    assert stats['accuracy'] == pytest.approx(6 / 8)
    assert stats['ref_fg_fraction'] == pytest.approx(2 / 8)
    empty = torch.zeros(1, 2, 2, 2, dtype=torch.long)
    assert pseudo_label_stats(empty, empty)['dice'] == 1.0


@pytest.mark.parametrize('classes', [1, 2, 3, 5])
def test_class_argmax_equals_argmax(classes):
    from fdpl.pseudo_labels.functional import class_argmax
    g = torch.Generator().manual_seed(classes)
    x = torch.randn(2, classes, 3, 4, 5, generator=g)
    x[:, :, 0] = 0.25  # ties everywhere on one slice: the first class wins, as in argmax
    x[:, :, 1, 0] = torch.arange(classes, 0, -1, dtype=torch.float).view(1, -1, 1)
    for dim in (1, 2):
        assert torch.equal(class_argmax(x, dim), x.argmax(dim))
    assert class_argmax(x).dtype == torch.long
    with pytest.raises(ValueError, match='empty'):
        class_argmax(torch.zeros(1, 0, 2))
