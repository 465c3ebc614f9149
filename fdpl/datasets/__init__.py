"""Datasets, samplers, transforms and synthetic data of fdpl."""
from . import transforms  # noqa: F401  (registers the transforms)
from .h5_dataset import H5SegDataset
from .la_dataset import LADataset
from .manifest_dataset import ManifestDataset
from .nifti_dataset import NiftiSegDataset
from .samplers import TwoStreamSampler
from .splits import (file_sha256, load_split, make_canonical_split, make_random_split, make_split,
                     write_split)
from .synthetic import SyntheticLADataset, generate_synthetic_la, synthesize_la_volume

__all__ = [
    'H5SegDataset', 'LADataset', 'ManifestDataset', 'NiftiSegDataset', 'SyntheticLADataset',
    'TwoStreamSampler', 'generate_synthetic_la', 'synthesize_la_volume', 'file_sha256',
    'load_split', 'make_canonical_split', 'make_random_split', 'make_split', 'write_split'
]
