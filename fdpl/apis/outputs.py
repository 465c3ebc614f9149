"""Files written by the inferencer: label and probability maps, overlays, the case table.

Every file is written atomically: to a hidden temporary file in the target
folder, then renamed over the target with :func:`os.replace`, so an
interrupted run leaves either the complete previous file or the complete new
one, never a half-written NIfTI.

A prediction is held in fdpl's ``(D, H, W)`` frame; it is written in the
stored axis order of its source (``'WHD'`` for NIfTI, i.e. nibabel's
``(x, y, z)``; the loader's ``axis_order`` for HDF5) with the source affine,
so it lies on the voxel grid of the scan it came from.
"""
import csv
import os
import os.path as osp
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import nibabel as nib
import numpy as np

__all__ = [
    'CSV_COLUMNS', 'output_paths', 'existing_outputs', 'atomic_write', 'save_label_map',
    'save_probabilities', 'write_predictions_csv'
]

#: Columns of ``predictions.csv``.
CSV_COLUMNS = ('case', 'inputs', 'output', 'probs', 'foreground_voxels', 'foreground_ml',
               'spacing_mm', 'seconds')
_NIFTI_EXT = '.nii.gz'


def output_paths(out_dir: str, case_id: str) -> Dict[str, str]:
    """Files of one case in an output folder.

    Args:
        out_dir (str): Output folder.
        case_id (str): Case id.

    Returns:
        dict: ``label`` (``<id>.nii.gz``) and ``probs``
        (``<id>_probs.nii.gz``).
    """
    return dict(label=osp.join(out_dir, case_id + _NIFTI_EXT),
                probs=osp.join(out_dir, f'{case_id}_probs{_NIFTI_EXT}'))


def existing_outputs(out_dir: str, case_ids: Sequence[str], probs: bool = False) -> List[str]:
    """Label files (and, with ``probs``, probability files) of these cases already in
    ``out_dir``."""
    found = []
    for case_id in case_ids:
        paths = output_paths(out_dir, case_id)
        found += [paths[k] for k in (('label', 'probs') if probs else ('label', ))
                  if osp.exists(paths[k])]
    return found


def atomic_write(path: str, write: Callable[[str], object]) -> str:
    """Write a file through a temporary file in the same folder.

    Args:
        path (str): Target file; its folder is created if missing.
        write (Callable[[str], object]): Writes the complete content to the
            path it is given (a hidden name with the target's extension, so
            that writers choosing the format by extension behave the same).

    Returns:
        str: ``path``.
    """
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    ext = _NIFTI_EXT if name.endswith(_NIFTI_EXT) else osp.splitext(name)[1]
    tmp = osp.join(folder, f'.{name[:len(name) - len(ext)]}.tmp{os.getpid()}{ext}')
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def _axis_perm(axis_order: str) -> tuple:
    order = axis_order.upper()
    if sorted(order) != ['D', 'H', 'W']:
        raise ValueError(f"axis_order must be a permutation of 'DHW', got {axis_order!r}")
    return tuple('DHW'.index(c) for c in order)


def save_label_map(pred: np.ndarray, affine: np.ndarray, path: str,
                   axis_order: str = 'WHD') -> str:
    """Write a ``(D, H, W)`` label map as a uint8 NIfTI in its source's frame.

    Uses :func:`fdpl.visualization.save_prediction_nifti` (which writes
    ``(D, H, W)`` as ``(W, H, D)``), after reordering the axes when the
    source is stored in another order.

    Args:
        pred (np.ndarray): ``(D, H, W)`` integer labels in ``[0, 255]``.
        affine (np.ndarray): ``(4, 4)`` voxel-to-world matrix of the source.
        path (str): ``.nii.gz`` file.
        axis_order (str): Stored order of the source's axes. Defaults to
            ``'WHD'`` (NIfTI ``(x, y, z)``).

    Returns:
        str: ``path``.
    """
    from fdpl.visualization import save_prediction_nifti
    stored = np.transpose(pred, _axis_perm(axis_order))
    # save_prediction_nifti reverses the axes: hand it the stored array reversed
    return atomic_write(path, lambda tmp: save_prediction_nifti(stored.transpose(2, 1, 0),
                                                                affine, tmp))


def save_probabilities(probs: np.ndarray, affine: np.ndarray, path: str,
                       axis_order: str = 'WHD') -> str:
    """Write class probabilities as a 4-D float32 NIfTI ``(x, y, z, K)``.

    Args:
        probs (np.ndarray): ``(K, D, H, W)`` probabilities.
        affine (np.ndarray): ``(4, 4)`` voxel-to-world matrix of the source.
        path (str): ``.nii.gz`` file.
        axis_order (str): Stored order of the source's axes. Defaults to
            ``'WHD'``.

    Returns:
        str: ``path``.
    """
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 4:
        raise ValueError(f'probs must be (K, D, H, W), got shape {probs.shape}')
    # (K, D, H, W) -> (stored axes..., K)
    stored = np.transpose(probs, tuple(1 + p for p in _axis_perm(axis_order)) + (0, ))
    image = nib.Nifti1Image(np.ascontiguousarray(stored), np.asarray(affine, np.float64))
    image.set_data_dtype(np.float32)
    image.header.set_xyzt_units('mm')
    return atomic_write(path, lambda tmp: nib.save(image, tmp))


def write_predictions_csv(path: str, rows: Sequence[Mapping]) -> str:
    """Write ``predictions.csv`` (columns :data:`CSV_COLUMNS`), atomically.

    Args:
        path (str): Output file.
        rows (Sequence[dict]): One dict per case with the column keys;
            missing values are written empty.

    Returns:
        str: ``path``.
    """

    def write(tmp: str) -> None:
        with open(tmp, 'w', newline='', encoding='utf-8') as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction='ignore')
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})

    return atomic_write(path, write)


def _cell(value: Optional[object]) -> str:
    if value is None:
        return ''
    if isinstance(value, float):
        return f'{value:.6g}'
    if isinstance(value, (list, tuple)):
        return ';'.join(_cell(v) for v in value)
    return str(value)
