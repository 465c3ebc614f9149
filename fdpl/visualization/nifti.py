"""Writing predicted label maps as NIfTI files."""
from pathlib import Path
from typing import Any, Union

import nibabel as nib
import numpy as np


def save_prediction_nifti(pred: Any, affine: Any, path: Union[str, Path]) -> str:
    """Save a ``(D, H, W)`` label map in the source image's world frame.

    fdpl loads NIfTI volumes as ``(z, y, x) = (D, H, W)``; this undoes that
    transpose, so the written array is ``(x, y, z)`` again and the source
    affine applies unchanged. Labels are stored as uint8.

    Args:
        pred (np.ndarray | Tensor): ``(D, H, W)`` integer labels in
            ``[0, 255]`` (a leading channel of size 1 is dropped).
        affine (np.ndarray): ``(4, 4)`` voxel-to-world matrix of the source
            image (``results['affine']``).
        path (str | Path): Output file, ``.nii`` or ``.nii.gz``; parent
            folders are created.

    Returns:
        str: ``path``.
    """
    if hasattr(pred, 'detach'):
        pred = pred.detach().cpu().numpy()
    pred = np.asarray(pred)
    if pred.ndim == 4 and pred.shape[0] == 1:
        pred = pred[0]
    if pred.ndim != 3:
        raise ValueError(f'save_prediction_nifti: pred must be (D, H, W), got shape {pred.shape}')
    if pred.size and (pred.min() < 0 or pred.max() > 255 or not np.all(np.mod(pred, 1) == 0)):
        raise ValueError('save_prediction_nifti: pred must hold integer labels in [0, 255], got '
                         f'range [{pred.min()}, {pred.max()}]')
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f'save_prediction_nifti: affine must be (4, 4), got {affine.shape}')
    path = Path(path)
    if not path.name.endswith(('.nii', '.nii.gz')):
        raise ValueError(f'save_prediction_nifti: {path} must end with .nii or .nii.gz')
    data = np.ascontiguousarray(pred.transpose(2, 1, 0).astype(np.uint8))
    image = nib.Nifti1Image(data, affine)
    image.set_data_dtype(np.uint8)
    image.header.set_xyzt_units('mm')
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(path))
    return str(path)
