"""Pack a pipeline ``results`` dict into model inputs and a data sample."""
from typing import Any, Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from fdpl.registry import TRANSFORMS
from fdpl.structures import VolSegDataSample, VoxelData

__all__ = ['PackVolSegInputs']


def _to_plain(value: Any) -> Any:
    """Convert numpy containers and scalars to picklable built-in types.

    Arrays become nested lists, numpy scalars python scalars; tuples stay
    tuples, lists lists and dicts dicts (converted recursively).
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, tuple):
        return tuple(_to_plain(v) for v in value)
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


@TRANSFORMS.register_module()
class PackVolSegInputs(BaseTransform):
    """Turn ``results`` into ``{'inputs', 'data_samples'}``.

    - ``inputs``: float32 tensor ``(C, D, H, W)``, contiguous (a 3-D image
      gets a channel axis);
    - ``data_samples``: :class:`~fdpl.structures.VolSegDataSample` with
      ``gt_sem_seg`` (``data`` int64 ``(1, D, H, W)``) if ``gt_seg_map`` is
      present, ``context_mask`` (``data`` uint8 ``(1, D', H', W')``) if
      present, and the metainfo keys of ``meta_keys`` found in ``results``,
      converted to plain python types (``affine`` as a nested list).

    Args:
        meta_keys (Sequence[str]): metainfo keys to copy when present.
    """

    DEFAULT_META_KEYS = ('case_id', 'img_path', 'seg_map_path', 'spacing', 'affine', 'ori_shape',
                         'transforms', 'labeled', 'fixed_origin', 'fixed_size', 'max_shift')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        if isinstance(meta_keys, str):
            meta_keys = (meta_keys, )
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        """Pack one sample.

        Args:
            results (dict): pipeline output with ``img`` ``(C, D, H, W)``.

        Returns:
            dict: ``{'inputs': Tensor, 'data_samples': VolSegDataSample}``.
        """
        if 'img' not in results:
            raise KeyError('PackVolSegInputs needs results["img"]')
        img = np.asarray(results['img'])
        if img.ndim == 3:
            img = img[None]
        if img.ndim != 4:
            raise ValueError(f'PackVolSegInputs expects img (C, D, H, W), got {img.shape}')
        inputs = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))

        sample = VolSegDataSample()
        seg = results.get('gt_seg_map')
        if seg is not None:
            seg = torch.from_numpy(np.ascontiguousarray(seg).astype(np.int64))
            sample.gt_sem_seg = VoxelData(data=seg[None] if seg.ndim == 3 else seg)
        mask = results.get('context_mask')
        if mask is not None:
            mask = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.uint8))
            sample.context_mask = VoxelData(data=mask[None] if mask.ndim == 3 else mask)
        sample.set_metainfo({k: _to_plain(results[k]) for k in self.meta_keys if k in results})
        return {'inputs': inputs, 'data_samples': sample}

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
