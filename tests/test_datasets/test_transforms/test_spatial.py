"""Tests of the whole-volume spatial transforms."""
import numpy as np
import pytest

from fdpl.datasets.transforms import Pad3D, RandomFlip3D, RandomRotFlip3D, Resample3D


def _case(shape=(4, 6, 9), seed=0):
    lab = np.random.RandomState(seed).randint(0, 3, shape).astype(np.uint8)
    img = np.stack([lab * 10.0, lab * -1.0]).astype(np.float32)
    return dict(img=img, gt_seg_map=lab, transforms=[], spacing=(1.0, 1.0, 1.0))


def test_rotflip_keeps_alignment_and_records():
    shapes = set()
    for seed in range(12):
        np.random.seed(seed)
        r = RandomRotFlip3D()(_case())
        np.testing.assert_array_equal(r['img'][0], r['gt_seg_map'] * 10.0)
        np.testing.assert_array_equal(r['img'][1], r['gt_seg_map'] * -1.0)
        assert r['img'].flags['C_CONTIGUOUS'] and r['gt_seg_map'].flags['C_CONTIGUOUS']
        rot, fl = r['transforms']
        assert rot['type'] == 'rot90' and rot['k'] in range(4) and rot['axes'] == (1, 2)
        assert fl['type'] == 'flip' and fl['axis'] in (1, 2)
        shapes.add(r['gt_seg_map'].shape)
    assert shapes == {(4, 6, 9), (4, 9, 6)}


def test_rotflip_deterministic_with_seed():
    np.random.seed(5)
    a = RandomRotFlip3D()(_case())
    np.random.seed(5)
    b = RandomRotFlip3D()(_case())
    assert a['transforms'] == b['transforms']
    np.testing.assert_array_equal(a['img'], b['img'])


def test_random_flip():
    case = _case()
    r = RandomFlip3D(prob=1.0, axes=(0, 2))(_case())
    np.testing.assert_array_equal(r['gt_seg_map'], case['gt_seg_map'][::-1, :, ::-1])
    assert [t['axis'] for t in r['transforms']] == [0, 2]
    r = RandomFlip3D(prob=0.0)(_case())
    assert r['transforms'] == []
    with pytest.raises(ValueError, match='axes'):
        RandomFlip3D(axes=(3, ))


def test_pad3d():
    r = Pad3D(size=(6, 6, 6), value=-1)(_case())
    assert r['img'].shape == (2, 6, 6, 9)
    assert r['transforms'] == [{'type': 'pad', 'pad': ((1, 1), (0, 0), (0, 0))}]
    assert (r['img'][:, 0] == -1).all() and (r['gt_seg_map'][0] == 0).all()
    r = Pad3D(size_divisor=8)(_case())
    assert r['gt_seg_map'].shape == (8, 8, 16)
    r = Pad3D(size=(2, 2, 2))(_case())
    assert r['transforms'] == []
    with pytest.raises(ValueError):
        Pad3D()


def test_resample3d_scale_and_spacing():
    r = Resample3D(scale=(1, 0.5, 2))(_case())
    assert r['img'].shape == (2, 4, 3, 18) and r['gt_seg_map'].shape == (4, 3, 18)
    assert r['spacing'] == pytest.approx((1.0, 2.0, 0.5))
    assert r['transforms'] == [{'type': 'resample', 'in_shape': (4, 6, 9), 'out_shape': (4, 3, 18)}]
    case = _case()
    case['spacing'] = (2.0, 1.0, 1.0)
    r = Resample3D(target_spacing=1.0, keys=('img', ))(case)
    assert r['img'].shape == (2, 8, 6, 9)
    assert r['gt_seg_map'].shape == (4, 6, 9)  # ground truth left at source resolution
    assert r['spacing'] == pytest.approx((1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match='exactly one'):
        Resample3D()
