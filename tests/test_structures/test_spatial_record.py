"""Tests of ``invert_record`` on records written by the spatial transforms."""
import numpy as np
import pytest

from fdpl.datasets.transforms import (CenterCrop3D, Pad3D, RandomCrop3D, RandomRotFlip3D,
                                      Resample3D)
from fdpl.structures import invert_record


def _vol(shape=(6, 7, 8), channels=None):
    n = int(np.prod(shape)) * (channels or 1)
    arr = np.arange(n, dtype=np.float32)
    return arr.reshape(((channels, ) if channels else ()) + tuple(shape))


def _apply(pipeline, results):
    for t in pipeline:
        results = t(results)
    return results


def test_invert_record_round_trip_lossless():
    shape = (9, 11, 13)
    lab = np.random.RandomState(1).randint(0, 3, shape).astype(np.uint8)
    img = _vol(shape, channels=1)
    results = dict(img=img.copy(), gt_seg_map=lab.copy(), transforms=[])
    np.random.seed(3)
    results = _apply(
        [Pad3D(size=(12, 12, 16)),
         RandomRotFlip3D(),
         RandomCrop3D(crop_size=(10, 12, 12))], results)
    kinds = [r['type'] for r in results['transforms']]
    assert kinds == ['pad', 'rot90', 'flip', 'crop']
    back = invert_record(results['gt_seg_map'], results['transforms'])
    assert back.shape == shape and back.dtype == np.uint8
    # voxels that survived the crop come back unchanged; the rest are 0
    covered = invert_record(np.ones_like(results['gt_seg_map']), results['transforms'])
    assert covered.any()
    np.testing.assert_array_equal(back[covered == 1], lab[covered == 1])
    assert (back[covered == 0] == 0).all()
    probs = np.stack([results['img'][0], -results['img'][0]])
    back_probs = invert_record(probs, results['transforms'])
    assert back_probs.shape == (2, ) + shape
    np.testing.assert_array_equal(back_probs[0][covered == 1], img[0][covered == 1])


def test_invert_record_round_trip_with_resample():
    shape = (6, 7, 9)
    lab = np.random.RandomState(2).randint(0, 2, shape).astype(np.uint8)
    results = dict(img=_vol(shape, channels=1), gt_seg_map=lab.copy(), transforms=[])
    np.random.seed(0)
    results = _apply([Resample3D(scale=2), RandomRotFlip3D(), CenterCrop3D((16, 20, 20))], results)
    assert [r['type']
            for r in results['transforms']] == ['resample', 'rot90', 'flip', 'pad', 'crop']
    back = invert_record(results['gt_seg_map'], results['transforms'])
    assert back.shape == shape
    np.testing.assert_array_equal(back, lab)  # x2 then /2 nearest is lossless
    probs = np.random.rand(2, *results['gt_seg_map'].shape).astype(np.float32)
    assert invert_record(probs, results['transforms']).shape == (2, ) + shape


def test_invert_record_rejects_unknown():
    with pytest.raises(ValueError, match='unknown'):
        invert_record(np.zeros((2, 2, 2)), [{'type': 'shear'}])
