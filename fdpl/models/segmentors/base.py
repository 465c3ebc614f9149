"""Common inference path of fdpl's 3D segmentors."""
from abc import abstractmethod
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model import BaseModel

from fdpl.structures import VolSegDataSample, VoxelData, invert_record

_TEST_DEFAULTS = dict(
    mode='classic', patch_size=(80, 112, 112), stride=(4, 18, 18), overlap=0.5,
    sw_batch_size=None, whole=False, lcc=False, return_logits=False, predictors=None,
    fast_predictor=None, size_divisor=16)


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
            weighting, 'whole' = one forward of the whole volume padded to a
            multiple of ``size_divisor``; docs/inference_modes.md says which
            to use when), ``patch_size`` and ``stride`` (d, h, w),
            ``overlap``, ``sw_batch_size`` (None: 1 in classic mode, else
            :data:`fdpl.inference.DEFAULT_SW_BATCH_SIZE`),
            ``fast_predictor`` (BatchNorm folded and channels-last weights
            during inference, :func:`fdpl.inference.fast_predictor`; None:
            on except in classic mode), ``whole`` (alias of mode 'whole'),
            ``lcc`` (largest connected component), ``return_logits`` (keep
            probabilities in ``seg_logits``), ``predictors`` (names from
            :attr:`PREDICTORS` scored side by side: each fills
            ``pred_sem_seg_<name>``, see :meth:`predict`; None: the headline
            only).
        channels_last (bool): Keep the 5D weights of the networks in
            ``torch.channels_last_3d`` layout, so 3D convolutions run in the
            faster channels-last kernels while training and teaching
            (activations follow the weights' layout). Pure engineering: the
            results equal the default layout's up to float rounding, and
            checkpoints load into either layout. Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """

    #: Names of the predictors a model can infer with (e.g. SN1, SN2 and
    #: their mean); empty for a model with one network.
    PREDICTORS: Tuple[str, ...] = ()

    def __init__(self, data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='VolSegDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        test_cfg = dict(test_cfg or {})
        unknown = set(test_cfg) - set(_TEST_DEFAULTS)
        if unknown:
            raise KeyError(f'Unknown test_cfg option(s) {sorted(unknown)}; '
                           f'expected a subset of {sorted(_TEST_DEFAULTS)}')
        self.test_cfg = {**_TEST_DEFAULTS, **test_cfg}
        windowed = not (self.test_cfg['whole'] or self.test_cfg['mode'] == 'whole')
        if 'overlap' in test_cfg and windowed and self.test_cfg['stride'] is not None:
            # the windows follow the stride; an overlap set next to it would change nothing
            raise ValueError(
                f"test_cfg.overlap={test_cfg['overlap']} is not used: test_cfg.stride="
                f"{self.test_cfg['stride']!r} places the windows (mode "
                f"{self.test_cfg['mode']!r}). Set test_cfg.stride=None to place them by overlap "
                '(e.g. --cfg-options model.test_cfg.stride=None), or leave overlap out.')
        predictors = self.test_cfg['predictors']
        if predictors:
            if isinstance(predictors, str):
                predictors = (predictors, )
            bad = [n for n in predictors if n not in self.PREDICTORS]
            if bad:
                raise ValueError(f'test_cfg.predictors {list(predictors)}: {bad} not among the '
                                 f'predictors of {type(self).__name__} '
                                 f'{list(self.PREDICTORS) or "(it has one network)"}')
            self.test_cfg['predictors'] = tuple(dict.fromkeys(predictors))
        self.channels_last = bool(channels_last)

    def _apply_memory_format(self) -> None:
        """Put the 5D weights in the configured layout; subclasses call it once
        their networks exist."""
        if self.channels_last:
            self.to(memory_format=torch.channels_last_3d)

    @property
    def headline_predictor(self) -> Optional[str]:
        """Name (in :attr:`PREDICTORS`) of the predictor behind
        ``pred_sem_seg``; None for a model with one network."""
        return None

    def predictor_probs(self, volume: torch.Tensor,
                        names: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Whole-volume probabilities of several named predictors.

        Models with :attr:`PREDICTORS` override this; the override may share
        work between predictors (e.g. a mean of two networks from their two
        passes).

        Args:
            volume (Tensor): ``(B, C, D, H, W)``.
            names (Sequence[str]): Names from :attr:`PREDICTORS`.

        Returns:
            dict: name -> ``(B, K, D, H, W)`` probabilities.
        """
        raise NotImplementedError(f'{type(self).__name__} has one predictor; '
                                  'test_cfg.predictors does not apply')

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

    def slide_probs(self, volume: torch.Tensor,
                    predictor: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
                    ) -> torch.Tensor:
        """Class probabilities of whole volumes.

        Args:
            volume (Tensor): ``(B, C, D, H, W)``.
            predictor (callable, optional): Window predictor; defaults to
                :meth:`inference_predictor`.

        Returns:
            Tensor: ``(B, K, D, H, W)`` probabilities.
        """
        from fdpl.inference import (DEFAULT_SW_BATCH_SIZE, fast_predictor,
                                    sliding_window_inference)
        cfg = self.test_cfg
        predictor = predictor or self.inference_predictor()
        mode = 'whole' if cfg['whole'] else cfg['mode']
        fast = cfg['fast_predictor']
        sw_batch_size = cfg['sw_batch_size'] or (
            1 if mode == 'classic' else DEFAULT_SW_BATCH_SIZE)
        with fast_predictor(self) if (mode != 'classic' if fast is None else fast) \
                else nullcontext():
            return sliding_window_inference(
                volume, predictor, patch_size=tuple(cfg['patch_size']),
                stride=tuple(cfg['stride']) if cfg['stride'] is not None else None,
                mode=mode, overlap=cfg['overlap'], sw_batch_size=sw_batch_size,
                apply_softmax=False, size_divisor=cfg['size_divisor'])

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
            int64 (and ``seg_logits`` when ``return_logits``). With
            ``test_cfg.predictors``, also ``pred_sem_seg_<name>`` for each
            named predictor (the headline's equals ``pred_sem_seg``), all
            from one call of :meth:`predictor_probs` per case.
        """
        names = tuple(self.test_cfg['predictors'] or ())
        headline = self.headline_predictor
        if data_samples is None:
            data_samples = [VolSegDataSample() for _ in range(inputs.shape[0])]
        for i, sample in enumerate(data_samples):
            vol = inputs[i:i + 1]
            pad = sample.metainfo.get('batch_pad')
            if pad:
                d, h, w = (vol.shape[2 + a] - pad[a] for a in range(3))
                vol = vol[..., :d, :h, :w]
            records = sample.metainfo.get('transforms') or []
            if names:
                wanted = names if headline in names else names + (headline, )
                named = {n: self._source_probs(p[0], records)
                         for n, p in self.predictor_probs(vol, wanted).items()}
                probs = named[headline]
            else:
                probs = self._source_probs(self.slide_probs(vol)[0], records)
            pred = self._label_map(probs)
            if 'gt_sem_seg' in sample and tuple(sample.gt_sem_seg.shape) != tuple(pred.shape):
                raise ValueError(
                    f'Prediction of case {sample.metainfo.get("case_id")} has shape '
                    f'{tuple(pred.shape)} after undoing the test pipeline, but its label has '
                    f'{tuple(sample.gt_sem_seg.shape)}; spatial test transforms must not change '
                    'the label (use keys=("img",) for Resample3D)')
            sample.pred_sem_seg = VoxelData(data=pred[None].long())
            for name in names:
                other = pred if name == headline else self._label_map(named[name])
                sample.set_field(VoxelData(data=other[None].long()), f'pred_sem_seg_{name}')
            if self.test_cfg['return_logits']:
                sample.seg_logits = VoxelData(data=probs)
        return data_samples

    @staticmethod
    def _source_probs(probs: torch.Tensor, records: list) -> torch.Tensor:
        """``(K, D, H, W)`` probabilities mapped back through the test pipeline."""
        if not records:
            return probs
        return torch.as_tensor(invert_record(probs.cpu().numpy(), records))

    def _label_map(self, probs: torch.Tensor) -> torch.Tensor:
        """Argmax of ``(K, D, H, W)`` probabilities, ``(D, H, W)`` int64 (largest
        connected component of the foreground when ``test_cfg.lcc``; class
        labels inside it are kept)."""
        from fdpl.inference import largest_connected_component
        pred = probs.argmax(0)
        if self.test_cfg['lcc']:
            keep = largest_connected_component(pred.cpu().numpy() > 0)
            pred = pred * torch.as_tensor(keep, device=pred.device)
        return pred


def add_uniform_noise(x: torch.Tensor, noise: float) -> torch.Tensor:
    """Training-input perturbation shared by fdpl's segmentors.

    Args:
        x (Tensor): Any shape, floating point (e.g. ``(B, C, d, h, w)``).
        noise (float): Half-width of the uniform noise; ``<= 0`` turns it off.

    Returns:
        Tensor: ``x + U(-noise, noise)`` drawn independently per element
        from the global torch generator (a new tensor; ``x`` is not
        modified), or ``x`` itself when ``noise <= 0``.
    """
    if noise <= 0:
        return x
    return x + torch.empty_like(x).uniform_(-noise, noise)


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
