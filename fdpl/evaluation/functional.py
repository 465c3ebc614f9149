"""Per-case overlap and surface-distance metrics of binary masks."""
from typing import Dict, Optional, Sequence, Union

import numpy as np
from medpy.metric import binary as _medpy

MetricValue = Union[float, bool]


def binary_metrics(pred: np.ndarray,
                   gt: np.ndarray,
                   spacing: Optional[Sequence[float]] = None) -> Dict[str, MetricValue]:
    """Dice, Jaccard, 95% Hausdorff distance and average surface distance.

    Computed with ``medpy.metric.binary`` (``dc``, ``jc``, ``hd95``, ``asd``).
    ``asd`` is medpy's one-directional mean distance from the prediction
    surface to the ground-truth surface; ``hd95`` pools both directions.

    Empty masks (medpy's distances raise on them) follow these rules, and the
    flags ``empty_pred`` / ``empty_gt`` record that a rule was applied:

    * both masks empty: dice 1, jaccard 1, hd95 0, asd 0;
    * empty prediction, non-empty ground truth: all four are 0, the rule of
      the field's test scripts (PROTOCOL.md section 6). Distances of 0 look
      perfect, so count ``empty_pred`` cases when reporting;
    * non-empty prediction, empty ground truth: dice 0, jaccard 0, hd95 and
      asd NaN (no surface to measure to).

    Args:
        pred (np.ndarray): ``(D, H, W)`` predicted mask, non-zero = foreground.
        gt (np.ndarray): ``(D, H, W)`` ground-truth mask, same shape.
        spacing (Sequence[float], optional): Voxel size ``(d, h, w)`` in mm.
            None gives distances in voxels (the field's convention).

    Returns:
        dict: ``dice`` and ``jaccard`` as fractions in ``[0, 1]``, ``hd95``
        and ``asd`` (voxels or mm) as floats, ``empty_pred`` and ``empty_gt``
        as bools.
    """
    pred = np.asarray(pred).astype(bool)
    gt = np.asarray(gt).astype(bool)
    if pred.shape != gt.shape:
        raise ValueError(f'pred and gt must have the same shape, got {pred.shape} and {gt.shape}')
    if pred.ndim != 3:
        raise ValueError(f'pred and gt must be (D, H, W) masks, got shape {pred.shape}')
    if spacing is not None:
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f'spacing must be three positive floats (d, h, w), got {spacing}')

    empty_pred = not pred.any()
    empty_gt = not gt.any()
    flags = dict(empty_pred=empty_pred, empty_gt=empty_gt)
    if empty_pred and empty_gt:
        return dict(dice=1.0, jaccard=1.0, hd95=0.0, asd=0.0, **flags)
    if empty_pred:
        return dict(dice=0.0, jaccard=0.0, hd95=0.0, asd=0.0, **flags)
    if empty_gt:
        return dict(dice=0.0, jaccard=0.0, hd95=float('nan'), asd=float('nan'), **flags)
    return dict(
        dice=float(_medpy.dc(pred, gt)),
        jaccard=float(_medpy.jc(pred, gt)),
        hd95=float(_medpy.hd95(pred, gt, voxelspacing=spacing)),
        asd=float(_medpy.asd(pred, gt, voxelspacing=spacing)),
        **flags)
