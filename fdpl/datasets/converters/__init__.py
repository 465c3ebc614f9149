"""Converters from public data layouts to fdpl's HDF5 layout and manifests."""
from .brats import convert_brats, convert_brats_case, find_brats_cases, nonzero_bbox
from .nifti_folder import (CSV_COLUMNS, MANIFEST_FORMAT, case_record, convert_nifti_folder,
                           find_cases, load_case, nonzero_crop_box, read_manifest, sha256_file,
                           write_case_h5, write_manifest)

__all__ = [
    'convert_brats', 'convert_brats_case', 'find_brats_cases', 'nonzero_bbox', 'CSV_COLUMNS',
    'MANIFEST_FORMAT', 'case_record', 'convert_nifti_folder', 'find_cases', 'load_case',
    'nonzero_crop_box', 'read_manifest', 'sha256_file', 'write_case_h5', 'write_manifest'
]
