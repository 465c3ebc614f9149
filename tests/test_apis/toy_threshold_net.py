"""Test helpers of the inference tests: a backbone that thresholds the intensity, and the files
around it (config, checkpoint, NIfTI and HDF5 scans).

Imported as the top-level module ``toy_threshold_net`` (its folder put on
``sys.path``), so that a config can name it in ``custom_imports`` and a
``tools/infer.py`` subprocess finds it through ``PYTHONPATH``.
"""
import math
import os
from typing import Optional, Sequence, Tuple

import h5py
import nibabel as nib
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config

from fdpl.registry import MODELS

THRESHOLD = 0.5


def rotated_affine(spacing=(0.8, 1.1, 2.5), angle_deg=30.0, origin=(-12.0, 30.5, 7.0)):
    """Voxel-to-world matrix: anisotropic ``(x, y, z)`` spacing, a rotation about z, an origin."""
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a), 0.], [math.sin(a), math.cos(a), 0.],
                    [0., 0., 1.]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


@MODELS.register_module()
class ToyThresholdNet(nn.Module):
    """Foreground where the channel mean ``m`` exceeds ``threshold``.

    Two classes: logits ``(0, 100 (m - t))``. Three classes: class 2 where
    also ``m > t + 0.25``. Pointwise, so any window tiling gives the same
    labels. ``(B, C, d, h, w)`` -> ``(B, K, d, h, w)``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2,
                 threshold: float = THRESHOLD) -> None:
        super().__init__()
        assert num_classes in (2, 3)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.threshold = nn.Parameter(torch.tensor(float(threshold)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        fg = (mean - self.threshold) * 100.0
        logits = [torch.zeros_like(fg), fg]
        if self.num_classes == 3:
            logits.append(fg + (mean - self.threshold - 0.25) * 100.0)
        return torch.cat(logits, dim=1)


def make_config(in_channels: int = 1, pipeline: Optional[Sequence[dict]] = None,
                semi: bool = False, thresholds=(THRESHOLD, THRESHOLD),
                num_classes: int = 2) -> Config:
    """A config with the toy backbone and a NIfTI test pipeline (no normalisation)."""
    pipeline = list(pipeline or [dict(type='LoadNiftiVolume', num_classes=2),
                                 dict(type='PackVolSegInputs')])
    test_cfg = dict(mode='classic', patch_size=(4, 8, 8), stride=(2, 4, 4))
    if semi:
        model = dict(type='SemiSupervisedSegmentor',
                     backbones=[dict(type='ToyThresholdNet', in_channels=in_channels,
                                     threshold=t) for t in thresholds],
                     infer_with='net1', test_cfg=test_cfg)
    else:
        model = dict(type='SupervisedSegmentor',
                     backbone=dict(type='ToyThresholdNet', in_channels=in_channels,
                                   num_classes=num_classes),
                     test_cfg=test_cfg)
    return Config(dict(
        default_scope='fdpl', custom_imports=dict(imports=['toy_threshold_net']), model=model,
        test_dataloader=dict(batch_size=1, dataset=dict(type='ManifestDataset',
                                                         manifest_file='unused.json',
                                                         pipeline=pipeline))))


def save_checkpoint(cfg: Config, path: str, with_config: bool = True) -> str:
    """Save the toy model's weights, with the config in ``meta['fdpl']`` as training does."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('fdpl'):
        model = MODELS.build(cfg.model)
    meta = dict(fdpl=dict(format='fdpl-checkpoint-meta/1', config=cfg.pretty_text, iter=1)) \
        if with_config else {}
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return path


def write_model_files(folder) -> Tuple[str, str]:
    """Dump the toy config and save its checkpoint into ``folder``.

    Returns:
        tuple[str, str]: The config file and the checkpoint.
    """
    cfg = make_config()
    cfg_file = os.path.join(str(folder), 'toy.py')
    cfg.dump(cfg_file)
    return cfg_file, save_checkpoint(cfg, os.path.join(str(folder), 'toy.pth'))


def volume_xyz(shape_xyz=(20, 18, 9), seed: int = 0) -> np.ndarray:
    """Random float32 intensities in [0, 1) kept away from the threshold."""
    rng = np.random.default_rng(seed)
    data = rng.random(shape_xyz).astype(np.float32)
    data[np.abs(data - THRESHOLD) < 0.05] = 0.2
    return data


def write_nifti(path: str, data_xyz: np.ndarray, affine: Optional[np.ndarray] = None) -> str:
    nib.save(nib.Nifti1Image(data_xyz, rotated_affine() if affine is None else affine), path)
    return path


def write_h5(path: str, image_whd: np.ndarray, affine=None, spacing=None, case_id=None) -> str:
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=image_whd)
        if affine is not None:
            f.attrs['affine'] = affine
        if spacing is not None:
            f.attrs['spacing'] = np.asarray(spacing, dtype=np.float64)
        if case_id is not None:
            f.attrs['case_id'] = case_id
    return path
