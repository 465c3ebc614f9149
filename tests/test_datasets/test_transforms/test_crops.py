"""Tests of RandomCrop3D, CenterCrop3D and ContextCrop3D."""
import numpy as np
import pytest

from fdpl.datasets.transforms import CenterCrop3D, ContextCrop3D, RandomCrop3D


def _arange_case(shape=(10, 12, 14), with_label=True, label=None):
    img = np.arange(1, np.prod(shape) + 1, dtype=np.float32).reshape((1, ) + shape)
    r = dict(img=img, transforms=[])
    if with_label:
        r['gt_seg_map'] = (np.zeros(shape, np.uint8) if label is None else label)
    return r


def test_random_crop_pads_small_volume():
    r = RandomCrop3D(crop_size=(8, 12, 16))(_arange_case((6, 12, 9)))
    assert r['img'].shape == (1, 8, 12, 16) and r['gt_seg_map'].shape == (8, 12, 16)
    pad, cut = r['transforms']
    assert pad == {'type': 'pad', 'pad': ((1, 1), (0, 0), (3, 4))}
    assert cut['box'] == (0, 0, 0, 8, 12, 16) and cut['in_shape'] == (8, 12, 16)
    assert (r['img'][0, 0] == 0).all() and r['img'][0, 1, 0, 3] == 1


def test_random_crop_deterministic_and_uniform():
    t = RandomCrop3D(crop_size=(4, 4, 4))
    np.random.seed(11)
    a = [t(_arange_case())['transforms'][-1]['box'] for _ in range(5)]
    np.random.seed(11)
    b = [t(_arange_case())['transforms'][-1]['box'] for _ in range(5)]
    assert a == b and len(set(a)) > 1
    r = t(_arange_case())
    box = r['transforms'][-1]['box']
    src = _arange_case()['img']
    np.testing.assert_array_equal(r['img'], src[:, box[0]:box[3], box[1]:box[4], box[2]:box[5]])


def test_random_crop_foreground_only_when_labeled():
    shape = (10, 12, 14)
    label = np.zeros(shape, np.uint8)
    label[9, 0, 13] = 1
    t = RandomCrop3D(crop_size=(4, 4, 4), fg_prob=1.0)
    for seed in range(5):
        np.random.seed(seed)
        assert t(_arange_case(label=label.copy()))['gt_seg_map'].sum() == 1
    # unlabeled: placement identical with an empty label, a random label and no label
    boxes = []
    for lab in (np.zeros(shape, np.uint8), label, None):
        np.random.seed(3)
        case = _arange_case(with_label=lab is not None, label=lab)
        case['labeled'] = False
        boxes.append(t(case)['transforms'][-1]['box'])
    assert boxes[0] == boxes[1] == boxes[2]


def test_center_crop():
    r = CenterCrop3D((4, 4, 4))(_arange_case((10, 12, 5)))
    assert r['transforms'] == [{'type': 'crop', 'box': (3, 4, 0, 7, 8, 4), 'in_shape': (10, 12, 5)}]
    np.testing.assert_array_equal(r['img'], _arange_case((10, 12, 5))['img'][:, 3:7, 4:8, 0:4])
    r = CenterCrop3D((4, 4, 8))(_arange_case((10, 12, 5)))
    assert r['transforms'][0] == {'type': 'pad', 'pad': ((0, 0), (0, 0), (1, 2))}
    assert r['img'].shape == (1, 4, 4, 8)


@pytest.mark.parametrize('seed', range(6))
def test_context_crop_fixed_window_and_mask(seed):
    shape, size, shift = (10, 12, 14), (6, 8, 8), (1, 3, 4)
    case = _arange_case(
        shape, label=np.random.RandomState(seed).randint(0, 2, shape).astype(np.uint8))
    src_img, src_lab = case['img'].copy(), case['gt_seg_map'].copy()
    np.random.seed(seed)
    r = ContextCrop3D(size, shift)(case)
    assert r['img'].shape == (1, 8, 14, 16) and r['context_mask'].shape == (8, 14, 16)
    assert r['context_mask'].dtype == np.uint8
    assert r['fixed_origin'] == shift and r['fixed_size'] == size and r['max_shift'] == shift
    box = r['transforms'][-1]['box']
    origin = tuple(b + m for b, m in zip(box[:3], shift))
    sl = tuple(slice(o, o + s) for o, s in zip(origin, size))
    fsl = tuple(slice(m, m + s) for m, s in zip(shift, size))
    np.testing.assert_array_equal(r['img'][(slice(None), ) + fsl], src_img[(slice(None), ) + sl])
    np.testing.assert_array_equal(r['gt_seg_map'][fsl], src_lab[sl])
    # mask == 1 exactly where the context voxel lies inside the source volume
    grids = np.meshgrid(
        *[np.arange(b, b + n) for b, n in zip(box[:3], r['context_mask'].shape)], indexing='ij')
    inside = np.all([(g >= 0) & (g < n) for g, n in zip(grids, shape)], axis=0)
    np.testing.assert_array_equal(r['context_mask'], inside.astype(np.uint8))
    assert (r['img'][0][r['context_mask'] == 0] == 0).all()
    assert (r['img'][0][r['context_mask'] == 1] > 0).all()  # arange starts at 1


def test_context_crop_pads_small_volume_and_masks_padding():
    np.random.seed(0)
    r = ContextCrop3D((8, 8, 8), (0, 2, 2))(_arange_case((6, 8, 8), with_label=False))
    assert r['transforms'][0] == {'type': 'pad', 'pad': ((1, 1), (0, 0), (0, 0))}
    assert r['img'].shape == (1, 8, 12, 12) and 'gt_seg_map' not in r
    mask = r['context_mask']
    assert not mask[0].any() and not mask[-1].any()  # symmetric padding is not real
    assert mask[1:-1, 2:-2, 2:-2].all() and not mask[:, :2].any()


def test_context_crop_never_reads_label():
    shape = (10, 12, 14)
    rng = np.random.RandomState(0)
    boxes = []
    for lab in (np.zeros(shape, np.uint8), rng.randint(0, 2, shape).astype(np.uint8),
                np.ones(shape, np.uint8), None):
        np.random.seed(42)
        case = _arange_case(shape, with_label=lab is not None, label=lab)
        case['labeled'] = False
        boxes.append(ContextCrop3D((6, 8, 8), (0, 2, 2))(case)['transforms'][-1]['box'])
    assert len(set(boxes)) == 1


def test_context_crop_one_voxel_wide_volume_margin_is_padding():
    """A (2, 4, 1) volume, crop (2, 4, 1), margin 3 in w (hand-built answer).

    The region is (2, 4, 1 + 2 * 3) = (2, 4, 7): the volume's single column
    at w = 3 (= fixed_origin), zeros and mask 0 on the 3 voxels either side.
    A window shifted by 3 (``shift.pad=True``) starts at w = 0 or w = 6.
    """
    img = np.arange(1, 9, dtype=np.float32).reshape(1, 2, 4, 1)
    r = ContextCrop3D((2, 4, 1), (0, 0, 3))(dict(img=img.copy(), transforms=[]))
    assert r['img'].shape == (1, 2, 4, 7) and r['fixed_origin'] == (0, 0, 3)
    expected_mask = np.zeros((2, 4, 7), np.uint8)
    expected_mask[..., 3] = 1
    np.testing.assert_array_equal(r['context_mask'], expected_mask)
    np.testing.assert_array_equal(r['img'][..., 3:4], img)
    assert not r['img'][..., :3].any() and not r['img'][..., 4:].any()
    assert r['transforms'][-1] == {'type': 'crop', 'box': (0, 0, -3, 2, 4, 4),
                                   'in_shape': (2, 4, 1)}
