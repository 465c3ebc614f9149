"""Common inference path of fdpl's 3D segmentors."""
from abc import abstractmethod
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.model import BaseModel

from fdpl.structures import VolSegDataSample, VoxelData

_TEST_DEFAULTS = dict(
    mode='classic', patch_size=(80, 112, 112), stride=(4, 18, 18), overlap=0.5,
    sw_batch_size=1, whole=False, lcc=False, return_logits=False)


class BaseVolSegmentor(BaseModel):
    """Base class: ``loss`` is the subclass's, ``predict`` is shared.

    ``predict`` runs sliding-window inference (:mod:`fdpl.inference`) on
    each whole volume of the batch, maps the class probabilities back to the
    source geometry by inverting the spatial records of the test pipeline,
    takes the argmax and optionally keeps the largest connected component.

    Args:
        data_preprocessor (dict): Config of the data preprocessor.
        test_cfg (dict, optional): Inference options: ``mode`` ('classic' =
            the field's protocol, 'gaussian' = overlap fraction + Gaussian
            weighting), ``patch_size`` and ``stride`` (d, h, w), ``overlap``,
            ``sw_batch_size``, ``whole`` (one forward of the whole volume),
            ``lcc`` (largest connected component), ``return_logits`` (keep
            probabilities in ``seg_logits``).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='VolSegDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        test_cfg = dict(test_cfg or {})
        unknown = set(test_cfg) - set(_TEST_DEFAULTS)
        if unknown:
            raise KeyError(f'Unknown test_cfg option(s) {sorted(unknown)}; '
                           f'expected a subset of {sorted(_TEST_DEFAULTS)}')
        self.test_cfg = {**_TEST_DEFAULTS, **test_cfg}

    @abstractmethod
    def inference_predictor(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Callable mapping ``(N, C, d, h, w)`` windows to probabilities
        ``(N, K, d, h, w)``."""

    def forward(self, inputs: Union[torch.Tensor, Dict[str, torch.Tensor]],
                data_samples: Optional[List[VolSegDataSample]] = None, mode: str = 'tensor'):
        """mmengine entry point: ``mode`` is 'loss', 'predict' or 'tensor'."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.inference_predictor()(inputs)
        raise ValueError(f'Invalid mode {mode!r}; expected "loss", "predict" or "tensor"')

    @abstractmethod
    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        """Training losses of one batch."""

    def slide_probs(self, volume: torch.Tensor) -> torch.Tensor:
        """Class probabilities of whole volumes.

        Args:
            volume (Tensor): ``(B, C, D, H, W)``.

        Returns:
            Tensor: ``(B, K, D, H, W)`` probabilities.
        """
        from fdpl.inference import sliding_window_inference, whole_volume_inference
        cfg = self.test_cfg
        predictor = self.inference_predictor()
        if cfg['whole']:
            return whole_volume_inference(volume, predictor, apply_softmax=False)
        return sliding_window_inference(
            volume, predictor, patch_size=tuple(cfg['patch_size']),
            stride=tuple(cfg['stride']) if cfg['stride'] is not None else None,
            mode=cfg['mode'], overlap=cfg['overlap'], sw_batch_size=cfg['sw_batch_size'],
            apply_softmax=False)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[VolSegDataSample]] = None) -> List[VolSegDataSample]:
        """Predict label maps in the source geometry of each case.

        Args:
            inputs (Tensor): ``(B, C, D, H, W)`` whole volumes (zero-padded at
                the end of each axis when their shapes differ).
            data_samples (list[VolSegDataSample], optional): Metainfo with
                ``transforms`` records and ``batch_pad``.

        Returns:
            list[VolSegDataSample]: with ``pred_sem_seg`` ``(1, D, H, W)``
            int64 (and ``seg_logits`` when ``return_logits``).
        """
        from fdpl.datasets.transforms.functional import invert_record
        from fdpl.inference import largest_connected_component
        if data_samples is None:
            data_samples = [VolSegDataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            vol = inputs[i:i + 1]
            pad = sample.metainfo.get('batch_pad')
            if pad:
                d, h, w = (vol.shape[2 + a] - pad[a] for a in range(3))
                vol = vol[..., :d, :h, :w]
            probs = self.slide_probs(vol)[0]
            records = sample.metainfo.get('transforms') or []
            if records:
                probs = torch.as_tensor(
                    invert_record(probs.cpu().numpy(), records))
            pred = probs.argmax(0)
            if self.test_cfg['lcc']:
                pred = torch.as_tensor(
                    largest_connected_component(pred.cpu().numpy() > 0).astype(np.int64))
            if 'gt_sem_seg' in sample and tuple(sample.gt_sem_seg.shape) != tuple(pred.shape):
                raise ValueError(
                    f'Prediction of case {sample.metainfo.get("case_id")} has shape '
                    f'{tuple(pred.shape)} after undoing the test pipeline, but its label has '
                    f'{tuple(sample.gt_sem_seg.shape)}; spatial test transforms must not change '
                    'the label (use keys=("img",) for Resample3D)')
            sample.pred_sem_seg = VoxelData(data=pred[None].long())
            if self.test_cfg['return_logits']:
                sample.seg_logits = VoxelData(data=probs)
        return data_samples


def stack_labels(samples: Sequence[VolSegDataSample], field: str = 'gt_sem_seg',
                 group: Optional[str] = None) -> torch.Tensor:
    """Stack ``(1, D, H, W)`` label maps of samples into ``(B, D, H, W)`` int64.

    Args:
        samples: Data samples.
        field (str): ``gt_sem_seg`` (its ``data``) or, with ``group``, the
            name of a field inside the :class:`VoxelData` ``group``.
        group (str, optional): e.g. ``'pseudo_labels'``.
    """
    out = []
    for i, s in enumerate(samples):
        holder = s.get(group) if group else s
        if holder is None or field not in holder:
            where = f'{group}.{field}' if group else field
            raise KeyError(f'Sample {s.metainfo.get("case_id", i)} has no {where!r}; a labeled '
                           'training sample needs a ground truth (with_label in the loading '
                           'transform) and an unlabeled one the pseudo-labels of the hook')
        value = holder.get(field)
        out.append((value.data if group is None else value)[0])
    return torch.stack(out).long()
