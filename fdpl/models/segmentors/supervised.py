"""Single-network supervised 3D segmentor."""
from typing import Callable, Dict, List, Optional

import torch
import torch.nn as nn

from fdpl.registry import MODELS
from fdpl.structures import VolSegDataSample
from .base import BaseVolSegmentor, add_uniform_noise, stack_labels


@MODELS.register_module()
class SupervisedSegmentor(BaseVolSegmentor):
    """One backbone trained with ``alpha * CE + (1 - alpha) * Dice``.

    Call graph::

        loss(inputs (B, C, d, h, w), samples)
          └─ backbone(inputs + noise) -> logits (B, K, d, h, w)
               └─ loss_sup(logits, gt (B, d, h, w))  -> {'loss_sup'}
        predict(volumes (B, C, D, H, W), samples)
          └─ sliding window (test_cfg) -> probs -> source geometry -> argmax

    Args:
        backbone (dict): Config of a registered backbone.
        loss (dict): Config of the supervised loss. Defaults to
            ``CEDiceLoss(alpha=0.5)``.
        noise (float): Half-width of the uniform noise ``U(-noise, noise)``
            added to the training inputs in :meth:`loss` (the perturbation
            :class:`SemiSupervisedSegmentor` gives its students, drawn by the
            same :func:`add_uniform_noise`); never applied in ``predict``.
            Defaults to 0 (off).
        data_preprocessor, test_cfg, init_cfg, channels_last: See
            :class:`BaseVolSegmentor`.
    """

    def __init__(self, backbone: dict, loss: Optional[dict] = None, noise: float = 0.0,
                 data_preprocessor: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, channels_last: bool = False) -> None:
        super().__init__(data_preprocessor=data_preprocessor, test_cfg=test_cfg,
                         init_cfg=init_cfg, channels_last=channels_last)
        self.backbone: nn.Module = MODELS.build(backbone)
        self.loss_sup: nn.Module = MODELS.build(loss or dict(type='CEDiceLoss', alpha=0.5))
        self.noise = float(noise)
        self._apply_memory_format()

    def inference_predictor(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: torch.softmax(self.backbone(x), dim=1)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[VolSegDataSample]) -> Dict[str, torch.Tensor]:
        """Supervised loss of a batch of labeled patches ``(B, C, d, h, w)``."""
        if isinstance(inputs, dict):
            raise ValueError('SupervisedSegmentor got a two-stream batch (unlabeled context '
                             'regions); use SemiSupervisedSegmentor or a labeled-only dataset')
        target = stack_labels(data_samples).to(inputs.device)
        logits = self.backbone(add_uniform_noise(inputs, self.noise))
        return dict(loss_sup=self.loss_sup(logits, target))
