import math

import numpy as np
import pytest

from fdpl.evaluation import binary_metrics


def _cube(origin, side=4, shape=(16, 16, 16)):
    mask = np.zeros(shape, dtype=bool)
    d, h, w = origin
    mask[d:d + side, h:h + side, w:w + side] = True
    return mask


def test_identical_masks():
    m = binary_metrics(_cube((2, 2, 2)), _cube((2, 2, 2)))
    assert m == dict(dice=1.0, jaccard=1.0, hd95=0.0, asd=0.0, empty_pred=False, empty_gt=False)


def test_two_shifted_cubes_have_known_overlap():
    # 4^3 cubes shifted by 2 along d: overlap 2*4*4 = 32 of 64 voxels each.
    pred, gt = _cube((2, 2, 2)), _cube((4, 2, 2))
    m = binary_metrics(pred, gt)
    assert m['dice'] == pytest.approx(2 * 32 / 128)
    assert m['jaccard'] == pytest.approx(32 / 96)
    assert 0 < m['hd95'] <= 2 and 0 < m['asd'] <= 2
    assert not m['empty_pred'] and not m['empty_gt']


def test_disjoint_cubes_and_spacing_scales_distances():
    pred, gt = _cube((1, 1, 1)), _cube((9, 9, 9))
    vox = binary_metrics(pred, gt)
    assert vox['dice'] == 0 and vox['jaccard'] == 0 and vox['hd95'] > 0
    mm = binary_metrics(pred, gt, spacing=(0.625, 0.625, 0.625))
    assert mm['hd95'] == pytest.approx(0.625 * vox['hd95'])
    assert mm['asd'] == pytest.approx(0.625 * vox['asd'])
    assert mm['dice'] == vox['dice']


def test_empty_prediction_scores_zero_as_the_field_does():
    m = binary_metrics(np.zeros((8, 8, 8)), _cube((2, 2, 2), shape=(8, 8, 8)))
    assert (m['dice'], m['jaccard'], m['hd95'], m['asd']) == (0, 0, 0, 0)
    assert m['empty_pred'] and not m['empty_gt']


def test_empty_ground_truth_gives_nan_distances():
    m = binary_metrics(_cube((2, 2, 2), shape=(8, 8, 8)), np.zeros((8, 8, 8)))
    assert m['dice'] == 0 and m['jaccard'] == 0
    assert math.isnan(m['hd95']) and math.isnan(m['asd'])
    assert m['empty_gt'] and not m['empty_pred']


def test_both_empty_is_perfect():
    m = binary_metrics(np.zeros((8, 8, 8)), np.zeros((8, 8, 8)))
    assert m == dict(dice=1.0, jaccard=1.0, hd95=0.0, asd=0.0, empty_pred=True, empty_gt=True)


def test_bad_inputs():
    with pytest.raises(ValueError, match='same shape'):
        binary_metrics(np.zeros((8, 8, 8)), np.zeros((8, 8, 9)))
    with pytest.raises(ValueError, match=r'\(D, H, W\)'):
        binary_metrics(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match='spacing'):
        binary_metrics(_cube((1, 1, 1)), _cube((1, 1, 1)), spacing=(1, 1))
