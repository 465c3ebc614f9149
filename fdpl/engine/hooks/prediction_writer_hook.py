"""Writes test predictions as NIfTI files and PNG overlays."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook

from fdpl.registry import HOOKS
from fdpl.structures import invert_record


@HOOKS.register_module()
class PredictionWriterHook(Hook):
    """Save each predicted case during testing.

    Args:
        out_dir (str, optional): Folder for ``<case_id>.nii.gz`` predictions
            (uint8 labels, with the source affine, in the source geometry).
        show_dir (str, optional): Folder for ``<case_id>.png`` overlays of
            representative axial slices (ground truth green, prediction red).
    """

    priority = 'LOW'

    def __init__(self, out_dir: Optional[str] = None, show_dir: Optional[str] = None) -> None:
        self.out_dir = out_dir
        self.show_dir = show_dir

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict = None,
                        outputs: Optional[Sequence] = None) -> None:
        if not outputs or not (self.out_dir or self.show_dir):
            return
        from mmengine.utils import mkdir_or_exist

        from fdpl.visualization import save_overlays, save_prediction_nifti
        for i, sample in enumerate(outputs):
            case = str(sample.metainfo.get('case_id', f'case_{batch_idx}_{i}'))
            pred = sample.pred_sem_seg.data[0].cpu().numpy()
            if self.out_dir:
                mkdir_or_exist(self.out_dir)
                affine = np.asarray(sample.metainfo.get('affine', np.eye(4)), dtype=np.float64)
                save_prediction_nifti(pred, affine, osp.join(self.out_dir, f'{case}.nii.gz'))
            if self.show_dir:
                mkdir_or_exist(self.show_dir)
                img = data_batch['inputs'][i][0].cpu().numpy()
                records = sample.metainfo.get('transforms') or []
                if records:
                    img = invert_record(img[None], records)[0]
                gt = sample.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in sample else None
                save_overlays(img, pred, gt, osp.join(self.show_dir, f'{case}.png'))
