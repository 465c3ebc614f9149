"""Batch collation for 3D volumes, plain and two-stream (labeled + unlabeled)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from fdpl.registry import MODELS
from fdpl.structures import VolSegDataSample


def _is_context(sample: VolSegDataSample) -> bool:
    return 'context_mask' in sample


@MODELS.register_module()
class VolSegDataPreprocessor(BaseDataPreprocessor):
    """Stacks ``(C, D, H, W)`` volumes into ``(B, C, D, H, W)`` batches.

    Two kinds of batch are produced:

    * **plain**: every sample is a patch or a whole volume; the output
      ``inputs`` is one tensor. Samples of different shapes (whole volumes at
      test time) are zero-padded at the end of each axis to the largest shape
      (and to ``size_divisor`` when given); the padding is recorded in the
      sample's metainfo under ``batch_pad`` so it can be removed.
    * **two-stream**: some samples carry a ``context_mask`` (unlabeled context
      regions from :class:`~fdpl.datasets.transforms.ContextCrop3D`). The
      output ``inputs`` is a dict ``{'labeled': (B_l, C, d, h, w) or None,
      'unlabeled': (B_u, C, D', H', W')}`` and ``data_samples`` is reordered
      labeled first, unlabeled second.

    Args:
        size_divisor (int, optional): Pad plain batches to a multiple of it.
            Defaults to None.
        pad_value (float): Value used for padding. Defaults to 0.
    """

    def __init__(self, size_divisor: Optional[int] = None, pad_value: float = 0.0) -> None:
        super().__init__()
        self.size_divisor = size_divisor
        self.pad_value = pad_value

    def _stack(self, tensors: Sequence[torch.Tensor],
               samples: Optional[Sequence[VolSegDataSample]]) -> torch.Tensor:
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) == 1 and not self.size_divisor:
            return torch.stack(list(tensors))
        channels = {t.shape[0] for t in tensors}
        if len(channels) != 1:
            raise ValueError(f'Cannot batch volumes with different channel counts {channels}')
        target = [max(t.shape[i] for t in tensors) for i in range(1, 4)]
        if self.size_divisor:
            target = [-(-s // self.size_divisor) * self.size_divisor for s in target]
        out = []
        for i, t in enumerate(tensors):
            pad = [target[a] - t.shape[a + 1] for a in range(3)]
            out.append(F.pad(t, (0, pad[2], 0, pad[1], 0, pad[0]), value=self.pad_value))
            if samples is not None:
                samples[i].set_metainfo(dict(batch_pad=tuple(pad)))
        return torch.stack(out)

    def forward(self, data: dict, training: bool = False) -> Dict[str, Union[torch.Tensor, dict, List]]:
        """Cast to the model's device and collate.

        Args:
            data (dict): ``inputs``: list of ``(C, D, H, W)`` tensors;
                ``data_samples``: list of :class:`VolSegDataSample`.
            training (bool): Unused; kept for the mmengine interface.

        Returns:
            dict: ``inputs`` (Tensor or dict of Tensors) and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        samples = data.get('data_samples')
        if isinstance(inputs, torch.Tensor):
            return dict(inputs=inputs.float(), data_samples=samples)
        inputs = [x.float() for x in inputs]
        if samples is not None and any(_is_context(s) for s in samples):
            lab = [i for i, s in enumerate(samples) if not _is_context(s)]
            unl = [i for i, s in enumerate(samples) if _is_context(s)]
            shapes = {tuple(inputs[i].shape) for i in unl}
            if len(shapes) != 1:
                raise ValueError('Unlabeled context regions of one batch must share a shape, '
                                 f'got {sorted(shapes)}; check ContextCrop3D crop_size/max_shift')
            batch = dict(
                labeled=torch.stack([inputs[i] for i in lab]) if lab else None,
                unlabeled=torch.stack([inputs[i] for i in unl]))
            return dict(inputs=batch, data_samples=[samples[i] for i in lab + unl])
        return dict(inputs=self._stack(inputs, samples), data_samples=samples)
