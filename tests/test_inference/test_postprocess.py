import numpy as np
import pytest

from fdpl.inference import largest_connected_component


def test_keeps_largest_of_two_cubes():
    mask = np.zeros((16, 16, 16), dtype=bool)
    mask[1:4, 1:4, 1:4] = True  # 27 voxels
    mask[8:14, 8:14, 8:14] = True  # 216 voxels
    out = largest_connected_component(mask)
    assert out.dtype == bool and out.shape == mask.shape
    assert out.sum() == 216 and out[8:14, 8:14, 8:14].all() and not out[1:4, 1:4, 1:4].any()


def test_diagonal_neighbours_connect_only_with_26_connectivity():
    mask = np.zeros((8, 8, 8), dtype=np.uint8)
    mask[2, 2, 2] = mask[3, 3, 3] = mask[4, 4, 4] = 1
    mask[6, 0, 0] = mask[6, 0, 1] = 1
    assert largest_connected_component(mask).sum() == 3
    six = largest_connected_component(mask, connectivity=1)
    assert six.sum() == 2 and six[6, 0, 0] and six[6, 0, 1]


def test_empty_stays_empty_and_input_checks():
    out = largest_connected_component(np.zeros((4, 5, 6)))
    assert out.shape == (4, 5, 6) and not out.any()
    with pytest.raises(ValueError, match=r'\(D, H, W\)'):
        largest_connected_component(np.zeros((4, 5)))
    with pytest.raises(ValueError, match='connectivity'):
        largest_connected_component(np.zeros((4, 5, 6)), connectivity=4)
