import itertools

import pytest
import torch
import torch.nn.functional as F

from fdpl.inference import (compute_window_starts, compute_window_starts_by_overlap,
                            gaussian_importance_map, sliding_window_inference,
                            whole_volume_inference, window_positions)


def _one_hot_predictor(num_classes, calls=None):
    """Reads the label stored in channel 0 and returns its one-hot map."""

    def predictor(x):
        if calls is not None:
            calls.append(tuple(x.shape))
        labels = x[:, 0].round().long().clamp(0, num_classes - 1)
        return F.one_hot(labels, num_classes).permute(0, 4, 1, 2, 3).float()

    return predictor


def _random_labels(shape, num_classes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_classes, shape, generator=g)


@pytest.mark.parametrize('size,patch,stride,expected', [
    (190, 112, 18, [0, 18, 36, 54, 72, 78]),
    (142, 112, 18, [0, 18, 30]),
    (88, 80, 4, [0, 4, 8]),
    (112, 112, 18, [0]),
    (113, 112, 18, [0, 1]),
    (96, 96, 16, [0]),
])
def test_window_starts_field_rule(size, patch, stride, expected):
    assert compute_window_starts(size, patch, stride) == expected


def test_window_starts_errors():
    with pytest.raises(ValueError, match='shorter than the patch'):
        compute_window_starts(10, 16, 4)
    with pytest.raises(ValueError, match='stride'):
        compute_window_starts(20, 16, 0)


@pytest.mark.parametrize('size,patch,overlap', [(100, 40, 0.5), (190, 112, 0.5), (88, 80, 0.25),
                                                (64, 64, 0.5), (97, 32, 0.7)])
def test_window_starts_by_overlap_cover_exactly(size, patch, overlap):
    starts = compute_window_starts_by_overlap(size, patch, overlap)
    assert starts[0] == 0 and starts[-1] == size - patch
    assert starts == sorted(set(starts))
    steps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(s <= patch * (1 - overlap) + 1 for s in steps)
    assert compute_window_starts_by_overlap(100, 40, 0.5) == [0, 20, 40, 60]


def test_la_example_counts_54_windows_and_positions():
    # 190 x 142 x 88 (W, H, D) volume in (d, h, w) = (88, 142, 190).
    shape = (88, 142, 190)
    index = torch.arange(shape[0] * shape[1] * shape[2], dtype=torch.float32).view(1, 1, *shape)
    starts = []

    def predictor(x):
        starts.append(int(x[0, 0, 0, 0, 0].item()))
        return torch.full((1, 2, 1, 1, 1), 0.5).expand(x.shape[0], 2, *x.shape[2:])

    probs = sliding_window_inference(
        index,
        predictor,
        patch_size=(80, 112, 112),
        stride=(4, 18, 18),
        mode='classic',
        apply_softmax=False)
    assert len(starts) == 54 == 3 * 3 * 6
    positions = {(i // (shape[1] * shape[2]), i // shape[2] % shape[1], i % shape[2])
                 for i in starts}
    expected = set(itertools.product([0, 4, 8], [0, 18, 30], [0, 18, 36, 54, 72, 78]))
    assert positions == expected
    assert probs.shape == (1, 2) + shape
    assert torch.allclose(probs, torch.full_like(probs, 0.5))


def test_classic_identity_reproduces_labels_exactly():
    labels = _random_labels((2, 20, 24, 28), 3)
    calls = []
    probs = sliding_window_inference(
        labels[:, None].float(),
        _one_hot_predictor(3, calls),
        patch_size=(16, 16, 16),
        stride=(5, 6, 7),
        apply_softmax=False)
    expected = F.one_hot(labels, 3).permute(0, 4, 1, 2, 3).float()
    assert torch.equal(probs, expected)
    n = len(compute_window_starts(20, 16, 5)) * len(compute_window_starts(24, 16, 6)) * len(
        compute_window_starts(28, 16, 7))
    assert len(calls) == n
    assert all(c == (2, 1, 16, 16, 16) for c in calls)


def test_classic_with_softmax_gives_argmax_labels():
    labels = _random_labels((1, 18, 20, 22), 2, seed=1)

    def logits(x):
        return 10. * _one_hot_predictor(2)(x)

    probs = sliding_window_inference(labels[:, None].float(), logits, (16, 16, 16), stride=4)
    assert torch.equal(probs.argmax(1), labels)
    assert torch.allclose(probs.sum(1), torch.ones(1, 18, 20, 22))


def test_small_volume_is_padded_centred_and_cropped_back():
    seen = []

    def predictor(x):
        seen.append(x.clone())
        return torch.zeros(x.shape[0], 2, *x.shape[2:])

    inputs = torch.ones(1, 1, 9, 16, 20)
    probs = sliding_window_inference(inputs, predictor, patch_size=16, stride=8)
    assert probs.shape == (1, 2, 9, 16, 20)
    first = seen[0][0, 0]
    # d: pad 7 -> 3 before, 4 after.
    assert first[:3].sum() == 0 and first[12:].sum() == 0
    assert bool(first[3:12].eq(1).all())
    assert len(seen) == 1 * 1 * 2

    labels = _random_labels((1, 9, 10, 20), 2, seed=2)
    probs = sliding_window_inference(
        labels[:, None].float(), _one_hot_predictor(2), (16, 16, 16), stride=8,
        apply_softmax=False)
    assert torch.equal(probs.argmax(1), labels)
    assert probs.shape == (1, 2, 9, 10, 20)


def test_gaussian_mode_reproduces_identity():
    labels = _random_labels((1, 21, 26, 30), 3, seed=3)
    probs = sliding_window_inference(
        labels[:, None].float(),
        _one_hot_predictor(3),
        patch_size=(16, 16, 16),
        mode='gaussian',
        overlap=0.5,
        apply_softmax=False)
    expected = F.one_hot(labels, 3).permute(0, 4, 1, 2, 3).float()
    assert torch.allclose(probs, expected, atol=1e-6)
    assert not torch.isnan(probs).any()


def test_sw_batch_size_does_not_change_result():
    torch.manual_seed(0)
    net = torch.nn.Conv3d(1, 2, 3, padding=1).eval()
    inputs = torch.randn(2, 1, 20, 22, 24)
    with torch.no_grad():
        for mode in ('classic', 'gaussian'):
            calls_1, calls_4 = [], []

            def run(calls, sw):

                def predictor(x):
                    calls.append(x.shape[0])
                    return net(x)

                return sliding_window_inference(
                    inputs, predictor, (16, 16, 16), stride=4 if mode == 'classic' else None,
                    mode=mode, sw_batch_size=sw)

            single = run(calls_1, 1)
            batched = run(calls_4, 4)
            assert torch.allclose(single, batched, atol=1e-5)
            assert sum(calls_1) == sum(calls_4)
            assert max(calls_4) == 4 * 2 and set(calls_1) == {2}


def test_num_classes_and_input_checks():
    inputs = torch.zeros(1, 1, 16, 16, 16)
    with pytest.raises(ValueError, match='num_classes'):
        sliding_window_inference(inputs, _one_hot_predictor(2), 16, num_classes=3)
    with pytest.raises(ValueError, match='mode'):
        sliding_window_inference(inputs, _one_hot_predictor(2), 16, mode='mean')
    with pytest.raises(ValueError, match=r'\(B, C, D, H, W\)'):
        sliding_window_inference(inputs[0], _one_hot_predictor(2), 16)
    with pytest.raises(ValueError, match='predictor must return'):
        sliding_window_inference(inputs, lambda x: x[:, :, :8], 16)


def test_gaussian_importance_map():
    w = gaussian_importance_map((9, 12, 7))
    assert w.shape == (9, 12, 7) and w.dtype == torch.float32
    assert w.max() == 1 and w[4, :, 3].max() == 1
    assert torch.equal(w, w.flip(0)) and torch.equal(w, w.flip(1))
    w.zero_()  # a returned map is a copy: the cache is not affected
    assert gaussian_importance_map((9, 12, 7)).max() == 1
    tiny = gaussian_importance_map(32, sigma_scale=0.01)
    assert tiny.min() > 0 and not torch.isnan(tiny).any()


def test_whole_volume_inference_pads_to_divisor():
    labels = _random_labels((1, 20, 30, 17), 2, seed=4)
    shapes = []

    def predictor(x):
        shapes.append(tuple(x.shape[2:]))
        return _one_hot_predictor(2)(x)

    probs = whole_volume_inference(labels[:, None].float(), predictor, size_divisor=16,
                                   apply_softmax=False)
    assert shapes == [(32, 32, 32)]
    assert torch.equal(probs.argmax(1), labels)


def _pointwise(x):
    """Logits that depend on each voxel alone: (N, 1, ...) -> (N, 3, ...)."""
    return torch.cat([x, 0.5 * x.square(), torch.sin(3 * x)], dim=1)


@pytest.mark.parametrize('mode,stride,overlap,sw', [('classic', (3, 5, 7), 0.5, 1),
                                                    ('classic', None, 0.25, 3),
                                                    ('gaussian', None, 0.5, 4),
                                                    ('gaussian', None, 0.0, 2),
                                                    ('gaussian', (4, 4, 4), 0.5, 8)])
def test_pointwise_predictor_stitches_to_the_whole_volume_output(mode, stride, overlap, sw):
    # for a predictor without spatial context every weighted average of
    # window outputs is the output of the whole volume
    x = torch.randn(2, 1, 19, 23, 30, generator=torch.Generator().manual_seed(5))
    probs = sliding_window_inference(x, _pointwise, (16, 16, 16), stride=stride, mode=mode,
                                     overlap=overlap, sw_batch_size=sw)
    expected = torch.softmax(_pointwise(x), dim=1)
    assert probs.shape == (2, 3, 19, 23, 30)
    assert torch.allclose(probs, expected, atol=1e-6)
    whole = sliding_window_inference(x, _pointwise, (16, 16, 16), mode='whole', size_divisor=8)
    assert torch.allclose(whole, expected, atol=1e-6)


@pytest.mark.parametrize('shape,patch,stride,mode,overlap', [
    ((88, 132, 175), (80, 112, 112), None, 'gaussian', 0.5),
    ((88, 132, 175), (80, 112, 112), None, 'gaussian', 0.25),
    ((88, 142, 190), (80, 112, 112), (4, 18, 18), 'classic', 0.5),
    ((20, 20, 20), (20, 20, 20), None, 'gaussian', 0.5),
    ((33, 17, 64), (16, 16, 16), None, 'classic', 0.5),
])
def test_window_positions_cover_the_volume_exactly(shape, patch, stride, mode, overlap):
    windows = window_positions(shape, patch, stride, mode, overlap)
    assert len(windows) == len(set(windows))
    hits = torch.zeros(shape, dtype=torch.int32)
    for d, h, w in windows:
        assert 0 <= d <= shape[0] - patch[0] and 0 <= h <= shape[1] - patch[1] \
            and 0 <= w <= shape[2] - patch[2]
        hits[d:d + patch[0], h:h + patch[1], w:w + patch[2]] += 1
    assert hits.min() >= 1  # every voxel seen, no window leaves the volume
    for axis in range(3):  # both ends flush
        starts = sorted({win[axis] for win in windows})
        assert starts[0] == 0 and starts[-1] == shape[axis] - patch[axis]


def test_window_counts_of_the_la_case():
    # 175 x 132 x 88 (W, H, D): 12 windows at overlap 0.5 (as MONAI), 8 at 0.25, 54 classic
    shape, patch = (88, 132, 175), (80, 112, 112)
    assert len(window_positions(shape, patch, mode='gaussian', overlap=0.5)) == 12
    assert len(window_positions(shape, patch, mode='gaussian', overlap=0.25)) == 8
    assert len(window_positions(shape, patch, (4, 18, 18))) == 3 * 3 * 5


def test_whole_mode_calls_the_predictor_once_on_the_padded_volume():
    labels = _random_labels((1, 20, 30, 17), 2, seed=6)
    calls = []
    probs = sliding_window_inference(labels[:, None].float(), _one_hot_predictor(2, calls),
                                     patch_size=(16, 16, 16), mode='whole', apply_softmax=False)
    assert calls == [(1, 1, 32, 32, 32)]
    assert torch.equal(probs.argmax(1), labels)
    with pytest.raises(ValueError, match='num_classes'):
        sliding_window_inference(labels[:, None].float(), _one_hot_predictor(2), 16,
                                 mode='whole', num_classes=3)


def test_eval_vnet_whole_volume_is_batch_independent_and_close_to_windows():
    # In eval mode BatchNorm is a fixed affine map per channel, so a volume's
    # output does not depend on what else is in the batch; away from the
    # borders a window sees the same field of view as the whole pass.
    from fdpl.models.backbones import VNet
    torch.manual_seed(0)
    net = VNet(base_channels=2).eval()
    x = torch.randn(2, 1, 32, 48, 48)
    with torch.no_grad():
        both = sliding_window_inference(x, net, 32, mode='whole')
        one = sliding_window_inference(x[1:], net, 32, mode='whole')
        windows = sliding_window_inference(x, net, (32, 32, 32), mode='gaussian', overlap=0.5,
                                           sw_batch_size=3)
    assert torch.allclose(both[1:], one, atol=1e-5)
    agree = (both.argmax(1) == windows.argmax(1)).float().mean()
    assert agree > 0.8


def test_matches_monai_given_the_same_weights():
    # MONAI samples its Gaussian differently (peak 0.91 instead of 1 for a
    # 16-voxel side); given fdpl's map as roi_weight_map, and sides whose
    # spans are multiples of its step (so both place the same windows), the
    # two functions agree to float rounding.
    monai_inferers = pytest.importorskip('monai.inferers')
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv3d(4, 2, 3, padding=1)).eval()
    x = torch.randn(1, 1, 32, 24, 40)
    with torch.no_grad():
        ours = sliding_window_inference(x, net, 16, mode='gaussian', overlap=0.5,
                                        sw_batch_size=4)
        theirs = torch.as_tensor(monai_inferers.sliding_window_inference(
            x, (16, 16, 16), 4, lambda w: torch.softmax(net(w), 1), overlap=0.5,
            mode='gaussian', roi_weight_map=gaussian_importance_map(16)))
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.equal(ours.argmax(1), theirs.argmax(1))
