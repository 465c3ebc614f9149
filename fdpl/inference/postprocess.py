"""Post-processing of predicted label maps."""
import numpy as np
from skimage.measure import label as _label_components


def largest_connected_component(mask: np.ndarray, connectivity: int = 3) -> np.ndarray:
    """Keep only the largest connected component of a binary mask.

    Several code bases of the field apply this to the foreground before
    scoring (scikit-image ``label`` with full 26-connectivity in 3D).

    Args:
        mask (np.ndarray): ``(D, H, W)`` mask; any non-zero voxel is
            foreground.
        connectivity (int): Neighbourhood in scikit-image's convention: 1 =
            6-, 2 = 18-, 3 = 26-connectivity. Defaults to 3.

    Returns:
        np.ndarray: ``(D, H, W)`` bool mask with the largest component (the
        first in scan order on ties). An empty mask stays empty.
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError(f'mask must be a (D, H, W) array, got shape {mask.shape}')
    if connectivity not in (1, 2, 3):
        raise ValueError(f'connectivity must be 1, 2 or 3, got {connectivity}')
    mask = mask.astype(bool)
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    components = _label_components(mask, connectivity=connectivity)
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return components == int(sizes.argmax())
