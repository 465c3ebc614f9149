"""Data transforms for 3D volumes (``(C, D, H, W)`` images, ``(D, H, W)`` labels).

Pure geometry lives in :mod:`.functional` (the primitives it shares with
:func:`fdpl.structures.invert_record` live in
:mod:`fdpl.structures.spatial_record`); every class here is a
:class:`mmcv.transforms.BaseTransform` registered in
:data:`fdpl.registry.TRANSFORMS`.
"""
from .cache import CachedCompose
from .crops import CenterCrop3D, ContextCrop3D, RandomCrop3D
from .formatting import PackVolSegInputs
from .functional import (crop, crop_with_padding, flip, pad_to_shape, pad_width, resample,
                         rot90_hw)
from .intensity import NormalizeIntensity, RandomIntensityScale, RandomNoise
from .loading import LoadH5Volume, LoadNiftiVolume
from .spatial import Pad3D, RandomFlip3D, RandomRotFlip3D, Resample3D

__all__ = [
    'CachedCompose',
    'LoadH5Volume', 'LoadNiftiVolume', 'NormalizeIntensity', 'RandomIntensityScale', 'RandomNoise',
    'RandomRotFlip3D', 'RandomFlip3D', 'Pad3D', 'Resample3D', 'RandomCrop3D', 'CenterCrop3D',
    'ContextCrop3D', 'PackVolSegInputs', 'crop', 'pad_to_shape', 'pad_width', 'crop_with_padding',
    'rot90_hw', 'flip', 'resample'
]
