"""Datasets, samplers, transforms and synthetic data of fdpl."""
from . import transforms  # noqa: F401  (registers the transforms)
from .h5_dataset import H5SegDataset
from .la_dataset import LADataset
from .nifti_dataset import NiftiSegDataset
from .samplers import TwoStreamSampler
from .synthetic import SyntheticLADataset, generate_synthetic_la, synthesize_la_volume

__all__ = [
    'H5SegDataset', 'LADataset', 'NiftiSegDataset', 'SyntheticLADataset', 'TwoStreamSampler',
    'generate_synthetic_la', 'synthesize_la_volume'
]
