"""Intensity transforms on ``results['img']`` ``(C, D, H, W)`` float32.

Each channel is handled on its own. Random draws come from numpy's global
RNG inside methods marked :func:`~mmcv.transforms.utils.cache_randomness`
(mmengine seeds it per dataloader worker), so a run is reproducible from
its seed.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness

from fdpl.registry import TRANSFORMS

__all__ = ['NormalizeIntensity', 'RandomIntensityScale', 'RandomNoise']

_EPS = 1e-8


def _check_img(results: Dict, name: str) -> np.ndarray:
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.ndim != 4:
        shape = getattr(img, 'shape', None)
        raise ValueError(f'{name} expects results["img"] as a (C, D, H, W) array, got {shape}')
    return img


def _clip_range(clip: Optional[Sequence[float]], name: str) -> Optional[Tuple[float, float]]:
    if clip is None:
        return None
    clip = tuple(float(c) for c in clip)
    if len(clip) != 2 or clip[0] > clip[1]:
        raise ValueError(f'{name} must be (low, high) with low <= high, got {clip}')
    return clip


@TRANSFORMS.register_module()
class NormalizeIntensity(BaseTransform):
    """Normalise the image intensities per channel.

    Modes:

    - ``'zscore'``: ``(x - mean) / std`` over all voxels.
    - ``'zscore_nonzero'``: mean and std of the non-zero voxels (e.g. brain
      after skull stripping, BraTS); zero voxels stay 0.
    - ``'percentile'``: map the ``lower`` / ``upper`` percentiles to 0 / 1.
    - ``'window'``: CT window ``(level, width)``: ``level - width / 2`` -> 0,
      ``level + width / 2`` -> 1 (Pancreas-CT: ``(75, 400)``).
    - ``'minmax'``: min -> 0, max -> 1 (TraCoCo's scaling).

    A constant channel maps to 0 instead of dividing by zero.

    Required keys: ``img``. Modified keys: ``img`` (float32).

    Args:
        mode (str): one of the modes above. Defaults to ``'zscore'``.
        lower (float): lower percentile in [0, 100] for ``'percentile'``.
            Defaults to 0.5.
        upper (float): upper percentile for ``'percentile'``. Defaults to
            99.5.
        window (tuple[float, float], optional): ``(level, width)`` for
            ``'window'``, required there.
        clip (bool, optional): clip the result to ``[0, 1]``. Defaults to
            None: True for ``'window'`` and ``'percentile'``, False else
            (z-scores are never clipped to ``[0, 1]``; pass False to keep
            values outside the window).
    """

    MODES = ('zscore', 'zscore_nonzero', 'percentile', 'window', 'minmax')

    def __init__(self,
                 mode: str = 'zscore',
                 lower: float = 0.5,
                 upper: float = 99.5,
                 window: Optional[Tuple[float, float]] = None,
                 clip: Optional[bool] = None) -> None:
        if mode not in self.MODES:
            raise ValueError(f'NormalizeIntensity mode must be one of {self.MODES}, got {mode!r}')
        if not 0 <= lower < upper <= 100:
            raise ValueError(f'percentiles must satisfy 0 <= lower < upper <= 100, '
                             f'got lower={lower}, upper={upper}')
        if mode == 'window':
            if window is None or len(window) != 2 or float(window[1]) <= 0:
                raise ValueError(f"mode='window' needs window=(level, width) with width > 0, "
                                 f'got {window}')
            window = (float(window[0]), float(window[1]))
        if clip is not None and mode in ('zscore', 'zscore_nonzero') and clip:
            raise ValueError(f'clip=True is meaningless for mode={mode!r}')
        self.mode = mode
        self.lower = float(lower)
        self.upper = float(upper)
        self.window = window
        self.clip = mode in ('window', 'percentile') if clip is None else bool(clip)

    def _channel(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32, copy=True)
        if self.mode == 'zscore':
            std = x.std()
            x -= x.mean()
            return x / std if std > _EPS else x * 0
        if self.mode == 'zscore_nonzero':
            nz = x != 0
            if not nz.any():
                return x
            vals = x[nz]
            mean, std = vals.mean(), vals.std()
            x[nz] = (vals - mean) / std if std > _EPS else 0
            return x
        if self.mode == 'percentile':
            lo, hi = np.percentile(x, [self.lower, self.upper])
        elif self.mode == 'window':
            level, width = self.window
            lo, hi = level - width / 2, level + width / 2
        else:
            lo, hi = x.min(), x.max()
        x = (x - lo) / (hi - lo) if hi - lo > _EPS else x * 0
        return np.clip(x, 0, 1) if self.clip else x

    def transform(self, results: Dict) -> Dict:
        """Normalise ``results['img']`` channel by channel."""
        img = _check_img(results, type(self).__name__)
        results['img'] = np.stack([self._channel(c) for c in img]).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mode={self.mode!r}, lower={self.lower}, '
                f'upper={self.upper}, window={self.window}, clip={self.clip})')


@TRANSFORMS.register_module()
class RandomIntensityScale(BaseTransform):
    """Multiply the image by one factor drawn from ``U(range)``.

    TraCoCo scales min-max normalised LA / BraTS volumes by ``U(0.75, 1.25)``
    and clips to ``[0, 1]``: ``RandomIntensityScale(clip=(0, 1))``.

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        range (tuple[float, float]): ``(low, high)`` of the factor.
            Defaults to ``(0.75, 1.25)``.
        prob (float): probability of scaling. Defaults to 1.0.
        clip (tuple[float, float], optional): clip the result to this
            interval. Defaults to None (no clipping).
    """

    def __init__(
            self,
            range: Tuple[float, float] = (0.75, 1.25),  # noqa: A002 - config name
            prob: float = 1.0,
            clip: Optional[Tuple[float, float]] = None) -> None:
        low, high = (float(r) for r in range)
        if not 0 < low <= high:
            raise ValueError(f'range must be (low, high) with 0 < low <= high, got {range}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.range = (low, high)
        self.prob = float(prob)
        self.clip = _clip_range(clip, 'clip')

    @cache_randomness
    def _draw(self) -> Optional[float]:
        if np.random.rand() >= self.prob:
            return None
        return float(np.random.uniform(*self.range))

    def transform(self, results: Dict) -> Dict:
        """Scale ``results['img']``."""
        img = _check_img(results, type(self).__name__)
        factor = self._draw()
        if factor is not None:
            img = img * np.float32(factor)
            if self.clip is not None:
                img = np.clip(img, *self.clip)
            results['img'] = img.astype(np.float32, copy=False)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(range={self.range}, prob={self.prob}, '
                f'clip={self.clip})')


@TRANSFORMS.register_module()
class RandomNoise(BaseTransform):
    """Add voxel-wise noise to the image.

    ``dist='uniform'`` draws from ``U(-scale, scale)`` (TraCoCo: 0.2 on LA);
    ``dist='gaussian'`` from ``N(0, scale^2)``, optionally clipped to
    ``+-noise_clip`` (UA-MT's teacher input: ``scale=0.1, noise_clip=0.2``).

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        dist (str): ``'uniform'`` or ``'gaussian'``. Defaults to
            ``'uniform'``.
        scale (float): half-width (uniform) or std (gaussian). Defaults to
            0.1.
        noise_clip (float, optional): clip the noise to
            ``[-noise_clip, noise_clip]``. Defaults to None.
        clip (tuple[float, float], optional): clip the noisy image.
            Defaults to None.
        prob (float): probability of adding noise. Defaults to 1.0.
    """

    def __init__(self,
                 dist: str = 'uniform',
                 scale: float = 0.1,
                 noise_clip: Optional[float] = None,
                 clip: Optional[Tuple[float, float]] = None,
                 prob: float = 1.0) -> None:
        if dist not in ('uniform', 'gaussian'):
            raise ValueError(f"dist must be 'uniform' or 'gaussian', got {dist!r}")
        if scale < 0:
            raise ValueError(f'scale must be >= 0, got {scale}')
        if noise_clip is not None and noise_clip <= 0:
            raise ValueError(f'noise_clip must be > 0, got {noise_clip}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.dist = dist
        self.scale = float(scale)
        self.noise_clip = noise_clip
        self.clip = _clip_range(clip, 'clip')
        self.prob = float(prob)

    @cache_randomness
    def _draw(self, shape: Tuple[int, ...]) -> Optional[np.ndarray]:
        if np.random.rand() >= self.prob:
            return None
        if self.dist == 'uniform':
            noise = np.random.uniform(-self.scale, self.scale, size=shape)
        else:
            noise = np.random.normal(0.0, self.scale, size=shape)
        if self.noise_clip is not None:
            noise = np.clip(noise, -self.noise_clip, self.noise_clip)
        return noise.astype(np.float32)

    def transform(self, results: Dict) -> Dict:
        """Add noise to ``results['img']``."""
        img = _check_img(results, type(self).__name__)
        noise = self._draw(img.shape)
        if noise is not None:
            img = img + noise
            if self.clip is not None:
                img = np.clip(img, *self.clip)
            results['img'] = img.astype(np.float32, copy=False)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(dist={self.dist!r}, scale={self.scale}, '
                f'noise_clip={self.noise_clip}, clip={self.clip}, prob={self.prob})')
