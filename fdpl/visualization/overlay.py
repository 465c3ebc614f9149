"""Slice overlays of a prediction and its ground truth."""
from pathlib import Path
from typing import Any, List, Optional, Union

import numpy as np


def save_overlays(image: Any,
                  pred: Any,
                  gt: Optional[Any],
                  out_png: Union[str, Path],
                  num_slices: int = 3) -> str:
    """Save axial slices with ground-truth and prediction contours.

    The image is drawn in grey, the ground-truth boundary in green and the
    predicted boundary in red. Slices (indices along ``D``) are chosen to be
    informative: the one with the largest ground-truth area, the one with the
    largest predicted area, the middle of the foreground's extent, then
    evenly spaced slices through that extent (the whole volume if there is no
    foreground) until ``num_slices`` distinct slices are found.

    Args:
        image (np.ndarray | Tensor): ``(D, H, W)`` intensities (a leading
            channel of size 1 is dropped).
        pred (np.ndarray | Tensor): ``(D, H, W)`` predicted labels; non-zero
            = foreground.
        gt (np.ndarray | Tensor, optional): ``(D, H, W)`` ground truth, or
            None.
        out_png (str | Path): Output file; parent folders are created.
        num_slices (int): Number of slices, side by side. Defaults to 3.

    Returns:
        str: ``out_png``.
    """
    # Agg canvas on a bare Figure: no pyplot state, the global backend is untouched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image = _volume(image, 'image')
    pred = _volume(pred, 'pred') != 0
    gt = None if gt is None else _volume(gt, 'gt') != 0
    for name, arr in (('pred', pred), ('gt', gt)):
        if arr is not None and arr.shape != image.shape:
            raise ValueError(f'save_overlays: {name} shape {arr.shape} differs from image '
                             f'shape {image.shape}')
    if int(num_slices) < 1:
        raise ValueError(f'save_overlays: num_slices must be >= 1, got {num_slices}')

    slices = _pick_slices(pred, gt, int(num_slices))
    lo, hi = np.percentile(image, [0.5, 99.5]) if image.size else (0., 1.)
    fig = Figure(figsize=(3.2 * len(slices), 3.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(slices), squeeze=False)
    for ax, z in zip(axes[0], slices):
        ax.imshow(image[z], cmap='gray', vmin=lo, vmax=hi if hi > lo else lo + 1)
        if gt is not None and _has_edge(gt[z]):
            ax.contour(gt[z].astype(float), levels=[0.5], colors='lime', linewidths=1.)
        if _has_edge(pred[z]):
            ax.contour(pred[z].astype(float), levels=[0.5], colors='red', linewidths=1.)
        ax.set_title(f'slice {z}', fontsize=9)
        ax.axis('off')
    label = 'green: ground truth, red: prediction' if gt is not None else 'red: prediction'
    fig.suptitle(label, fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    return str(out_png)


def _has_edge(mask: np.ndarray) -> bool:
    """Whether a 2D mask has a boundary to draw (neither empty nor full)."""
    return bool(mask.any()) and not bool(mask.all())


def _volume(array: Any, name: str) -> np.ndarray:
    if hasattr(array, 'detach'):
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f'save_overlays: {name} must be (D, H, W), got shape {array.shape}')
    return array


def _pick_slices(pred: np.ndarray, gt: Optional[np.ndarray], num: int) -> List[int]:
    """Distinct, sorted axial indices, the most informative first."""
    depth = pred.shape[0]
    fg = pred if gt is None else (pred | gt)
    candidates = []
    if gt is not None and gt.any():
        candidates.append(int(gt.sum(axis=(1, 2)).argmax()))
    if pred.any():
        candidates.append(int(pred.sum(axis=(1, 2)).argmax()))
    occupied = np.flatnonzero(fg.any(axis=(1, 2)))
    first, last = (occupied[0], occupied[-1]) if occupied.size else (0, depth - 1)
    candidates.append(int((first + last) // 2))
    candidates.extend(int(round(v)) for v in np.linspace(first, last, num + 2)[1:-1])
    candidates.extend(int(round(v)) for v in np.linspace(0, depth - 1, num))
    chosen: List[int] = []
    for z in candidates:
        if z not in chosen:
            chosen.append(z)
        if len(chosen) == min(num, depth):
            break
    return sorted(chosen)
