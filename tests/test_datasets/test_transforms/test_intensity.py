"""Tests of the intensity transforms."""
import numpy as np
import pytest

from fdpl.datasets.transforms import NormalizeIntensity, RandomIntensityScale, RandomNoise


def _img(seed=0):
    return (np.random.RandomState(seed).rand(2, 6, 7, 8) * 100 - 20).astype(np.float32)


def test_zscore_per_channel():
    out = NormalizeIntensity()(dict(img=_img()))['img']
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)


def test_zscore_nonzero_keeps_background():
    img = _img()
    img[:, :2] = 0
    out = NormalizeIntensity(mode='zscore_nonzero')(dict(img=img.copy()))['img']
    assert (out[:, :2] == 0).all()
    np.testing.assert_allclose(out[0][img[0] != 0].mean(), 0, atol=1e-5)


def test_window_minmax_percentile():
    img = np.linspace(-300, 400, 2 * 4 * 4 * 4, dtype=np.float32).reshape(2, 4, 4, 4)
    out = NormalizeIntensity(mode='window', window=(75, 400))(dict(img=img.copy()))['img']
    assert out.min() == 0 and out.max() == 1
    probe = np.array([-125, 75, 275], np.float32).reshape(1, 1, 1, 3)
    np.testing.assert_allclose(
        NormalizeIntensity(mode='window', window=(75, 400))(dict(img=probe))['img'].ravel(),
        [0, 0.5, 1])
    out = NormalizeIntensity(mode='minmax')(dict(img=img.copy()))['img']
    np.testing.assert_allclose(out.reshape(2, -1).min(1), 0)
    np.testing.assert_allclose(out.reshape(2, -1).max(1), 1)
    out = NormalizeIntensity(mode='percentile', lower=5, upper=95)(dict(img=img.copy()))['img']
    assert out.min() == 0 and out.max() == 1
    const = NormalizeIntensity(mode='minmax')(dict(img=np.ones((1, 3, 3, 3), np.float32)))['img']
    assert (const == 0).all()


def test_normalize_bad_options():
    with pytest.raises(ValueError, match='mode'):
        NormalizeIntensity(mode='robust')
    with pytest.raises(ValueError, match='window'):
        NormalizeIntensity(mode='window')
    with pytest.raises(ValueError, match='percentiles'):
        NormalizeIntensity(mode='percentile', lower=90, upper=10)


def test_random_scale_deterministic_and_bounded():
    img = np.ones((1, 4, 4, 4), np.float32)
    t = RandomIntensityScale(range=(0.75, 1.25))
    np.random.seed(7)
    a = t(dict(img=img.copy()))['img']
    np.random.seed(7)
    b = t(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(a, b)
    assert 0.75 <= a[0, 0, 0, 0] <= 1.25 and np.unique(a).size == 1
    clipped = RandomIntensityScale(range=(2, 3), clip=(0, 1))(dict(img=img.copy()))['img']
    assert clipped.max() == 1
    np.testing.assert_array_equal(RandomIntensityScale(prob=0)(dict(img=img.copy()))['img'], img)


def test_random_noise():
    img = np.zeros((1, 8, 8, 8), np.float32)
    out = RandomNoise(dist='uniform', scale=0.2)(dict(img=img.copy()))['img']
    assert out.dtype == np.float32 and np.abs(out).max() <= 0.2 and out.std() > 0
    out = RandomNoise(dist='gaussian', scale=0.1, noise_clip=0.2)(dict(img=img.copy()))['img']
    assert np.abs(out).max() <= 0.2 + 1e-7
