"""Converters from public data layouts to fdpl's HDF5 layout."""
from .brats import convert_brats, convert_brats_case, find_brats_cases, nonzero_bbox

__all__ = ['convert_brats', 'convert_brats_case', 'find_brats_cases', 'nonzero_bbox']
