"""Tests of the pure geometry functions (``invert_record``: tests/test_structures)."""
import numpy as np
import pytest

from fdpl.datasets.transforms import (crop, crop_with_padding, flip, pad_to_shape, pad_width,
                                      resample, rot90_hw)


def _vol(shape=(6, 7, 8), channels=None):
    n = int(np.prod(shape)) * (channels or 1)
    arr = np.arange(n, dtype=np.float32)
    return arr.reshape(((channels, ) if channels else ()) + tuple(shape))


def test_crop_inside_and_outside():
    vol = _vol(channels=2)
    out = crop(vol, (1, 2, 3, 4, 5, 7))
    assert out.shape == (2, 3, 3, 4)
    np.testing.assert_array_equal(out, vol[:, 1:4, 2:5, 3:7])
    with pytest.raises(ValueError, match='outside'):
        crop(vol, (0, 0, 0, 7, 7, 8))


def test_pad_to_shape_symmetric_and_field():
    vol = _vol((3, 4, 5))
    out, pad = pad_to_shape(vol, (6, 4, 8), value=-1)
    assert pad == ((1, 2), (0, 0), (1, 2))
    assert out.shape == (6, 4, 8)
    np.testing.assert_array_equal(out[1:4, :, 1:6], vol)
    assert (out[0] == -1).all() and (out[4:] == -1).all()
    # axes already large enough are never cropped
    assert pad_to_shape(vol, (2, 2, 2))[0].shape == vol.shape
    # the field's rule: any axis <= target -> every axis gets deficit // 2 + 3 per side
    assert pad_width((3, 4, 5), (6, 4, 8), mode='field') == ((4, 4), (3, 3), (4, 4))
    assert pad_width((88, 140, 180), (80, 112, 112), mode='field') == ((0, 0), ) * 3


def test_crop_with_padding_marks_outside():
    vol = _vol((4, 5, 6), channels=2)
    win, mask = crop_with_padding(vol, (-1, 3, 4), (3, 4, 4), value=-7)
    assert win.shape == (2, 3, 4, 4) and mask.shape == (3, 4, 4) and mask.dtype == np.uint8
    np.testing.assert_array_equal(win[:, 1:, :2, :2], vol[:, :2, 3:5, 4:6])
    assert mask.sum() == 2 * 2 * 2
    assert (win[:, mask == 0] == -7).all()
    win, mask = crop_with_padding(vol, (10, 0, 0), (2, 2, 2))
    assert not mask.any() and not win.any()


def test_rot_flip_inverse():
    vol = _vol((3, 4, 5), channels=2)
    rotated = rot90_hw(vol, 1)
    assert rotated.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(rot90_hw(rotated, -1), vol)
    np.testing.assert_array_equal(flip(flip(vol, 2), 2), vol)
    np.testing.assert_array_equal(flip(vol, 0), vol[:, ::-1])
    with pytest.raises(ValueError):
        flip(vol, 3)


def test_resample_shapes_and_labels():
    lab = (np.random.RandomState(0).rand(5, 6, 7) > 0.5).astype(np.uint8)
    up = resample(lab, (10, 12, 14), order=0)
    assert up.dtype == np.uint8 and set(np.unique(up)) <= {0, 1}
    np.testing.assert_array_equal(up[::2, ::2, ::2], lab)
    img = _vol((5, 6, 7), channels=2)
    assert resample(img, (3, 9, 7), order=1).shape == (2, 3, 9, 7)
