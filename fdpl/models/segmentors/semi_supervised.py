"""Two co-trained sub-networks learning from each other's pseudo-labels."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from fdpl.registry import MODELS
from fdpl.structures import VolSegDataSample
from .base import BaseVolSegmentor, add_uniform_noise, stack_labels
from .semi_train_cfg import (build_cut, build_strategies, normalize_semi_train_cfg,
                             unknown_option)

INFER_WITH = ('net1', 'net2', 'mean')
#: Options that moved into ``semi_train_cfg`` (old model key -> new key).
_MOVED_TO_SEMI_TRAIN_CFG = dict(unsup_weights='unsup_weights', cut_students='cut_students',
                                noise='noise', strategies='strategies', cut='cut',
                                teacher_mode='teacher_mode', shift='shift', schedule='schedule')


@MODELS.register_module()
class SemiSupervisedSegmentor(BaseVolSegmentor):
    """Co-training of two sub-networks (SN1, SN2) with pseudo-labels.

    Everything happens in :meth:`loss` from the batch it receives, so the
    model trains the same way with or without a DDP wrapper. The
    pseudo-labels are made before the step by
    :class:`~fdpl.engine.hooks.PseudoLabelHook` and arrive attached to the
    unlabeled data samples; the hook also sets :attr:`unsup_weight`.

    Call graph of one training step::

        inputs = {'labeled': x_l (B_l, C, d, h, w),
                  'unlabeled': context (B_u, C, D', H', W')}
        x_u   = context[..., fixed window]                  (B_u, C, d, h, w)
        x_cut = cut_mix(x_u, cut_mask, cut_partner)         (SN2's view, CUT)
        SN1([x_l, x_u]   + noise) -> loss_sup_1, loss_<term>_1 vs pseudo_labels.<term>_1
        SN2([x_l, x_cut] + noise) -> loss_sup_2, loss_<term>_2 vs pseudo_labels.<term>_2
        loss_<term>_i = unsup_weight * unsup_weights[term] * ell(logits_u, label, voxel weight)

    ``<term>`` are the names of the strategies in ``semi_train_cfg``
    (``fix`` and ``dyn`` for FDPL); pseudo-labels of SN ``i`` come from its
    peer. The labels for a CUT student arrive already mixed; this model
    mixes the images with the same box masks.

    The method's settings have one home, ``semi_train_cfg`` (see
    :mod:`fdpl.models.segmentors.semi_train_cfg`), checked here: an option
    that nothing would read is an error that names it. The hook reads its
    strategies, CUT, teacher mode and schedule from there; this model reads
    ``unsup_weights``, ``cut_students`` and ``noise`` (also reachable as the
    attributes of the same names).

    Args:
        backbone (dict): Backbone config, built twice (independent random
            initialisation). Ignored when ``backbones`` is given.
        backbones (list[dict], optional): Two backbone configs.
        loss_sup (dict): Supervised loss. Defaults to ``CEDiceLoss(0.5)``.
        loss_unsup (dict, optional): Loss ell of a pseudo-label term
            (``CEDiceLoss(alpha=1.0)`` = CE only). Defaults to the same type
            and settings as ``loss_sup``.
        semi_train_cfg (dict, optional): The pseudo-label method's settings
            (strategies, shift, CUT and its students, per-term weights,
            schedule, confidence threshold, teacher mode, input noise);
            missing entries take the defaults of
            :data:`~fdpl.models.segmentors.semi_train_cfg.DEFAULT_SEMI_TRAIN_CFG`.
        infer_with (str): 'net1', 'net2' or 'mean' (average of the two
            probability maps): the headline predictor, behind
            ``pred_sem_seg``. ``test_cfg.predictors`` scores others beside
            it (``tools/test.py`` evaluates all three). Defaults to 'net1'.
        data_preprocessor, test_cfg, init_cfg, channels_last: See
            :class:`BaseVolSegmentor`.
    """

    PREDICTORS = INFER_WITH

    def __init__(self, backbone: Optional[dict] = None,
                 backbones: Optional[Sequence[dict]] = None,
                 loss_sup: Optional[dict] = None, loss_unsup: Optional[dict] = None,
                 semi_train_cfg: Optional[dict] = None,
                 infer_with: str = 'net1', data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False, **unknown) -> None:
        for key in unknown:
            if key in _MOVED_TO_SEMI_TRAIN_CFG:
                raise ValueError(f'model.{key} is not read any more: the pseudo-label method\'s '
                                 f'settings live in model.semi_train_cfg; set model.semi_train_cfg.'
                                 f'{_MOVED_TO_SEMI_TRAIN_CFG[key]} instead')
            raise unknown_option('model', key, (
                'backbone', 'backbones', 'loss_sup', 'loss_unsup', 'semi_train_cfg', 'infer_with',
                'data_preprocessor', 'test_cfg', 'init_cfg', 'channels_last'))
        super().__init__(data_preprocessor=data_preprocessor, test_cfg=test_cfg,
                         init_cfg=init_cfg, channels_last=channels_last)
        if backbones is None:
            if backbone is None:
                raise ValueError('SemiSupervisedSegmentor needs `backbone` or `backbones`')
            backbones = [backbone, backbone]
        if len(backbones) != 2:
            raise ValueError(f'`backbones` must hold two configs, got {len(backbones)}')
        self.net1: nn.Module = MODELS.build(backbones[0])
        self.net2: nn.Module = MODELS.build(backbones[1])
        loss_sup = loss_sup or dict(type='CEDiceLoss', alpha=0.5)
        self.loss_sup: nn.Module = MODELS.build(loss_sup)
        self.loss_unsup: nn.Module = MODELS.build(loss_unsup or loss_sup)
        #: The method's settings, complete and checked (see the class docstring).
        self.semi_train_cfg = normalize_semi_train_cfg(semi_train_cfg)
        build_strategies(self.semi_train_cfg)  # strategy and CUT options fail here, not later
        build_cut(self.semi_train_cfg)
        if infer_with not in INFER_WITH:
            raise ValueError(f'infer_with must be one of {INFER_WITH}, got {infer_with!r}')
        self.infer_with = infer_with
        #: Scheduled weight of the pseudo-label terms, set by PseudoLabelHook.
        self.unsup_weight = 0.0
        self._apply_memory_format()

    # the settings the student step reads, kept in semi_train_cfg
    @property
    def unsup_weights(self) -> Dict[str, float]:
        """``semi_train_cfg.unsup_weights``: per-term factor lambda."""
        return self.semi_train_cfg.unsup_weights

    @unsup_weights.setter
    def unsup_weights(self, value: Dict[str, float]) -> None:
        self._set_semi('unsup_weights', value)

    @property
    def cut_students(self) -> Tuple[int, ...]:
        """``semi_train_cfg.cut_students``: sub-networks fed the CUT images."""
        return tuple(self.semi_train_cfg.cut_students)

    @cut_students.setter
    def cut_students(self, value: Sequence[int]) -> None:
        self._set_semi('cut_students', value)

    @property
    def noise(self) -> float:
        """``semi_train_cfg.noise``: half-width of the student input noise."""
        return float(self.semi_train_cfg.noise)

    @noise.setter
    def noise(self, value: float) -> None:
        self._set_semi('noise', value)

    def _set_semi(self, key: str, value) -> None:
        cfg = {k: v for k, v in self.semi_train_cfg.items() if k != 'unsup_weights'}
        if key != 'unsup_weights':
            cfg['unsup_weights'] = self.semi_train_cfg.unsup_weights
        self.semi_train_cfg = normalize_semi_train_cfg(dict(cfg, **{key: value}))

    @property
    def nets(self) -> Tuple[nn.Module, nn.Module]:
        """The two sub-networks ``(SN1, SN2)``."""
        return self.net1, self.net2

    @property
    def headline_predictor(self) -> str:
        """The declared predictor, :attr:`infer_with`."""
        return self.infer_with

    def inference_predictor(self, name: Optional[str] = None
                            ) -> Callable[[torch.Tensor], torch.Tensor]:
        """Window predictor of ``name`` (one of :data:`INFER_WITH`;
        defaults to :attr:`infer_with`)."""
        name = name or self.infer_with
        if name == 'net1':
            return lambda x: torch.softmax(self.net1(x), dim=1)
        if name == 'net2':
            return lambda x: torch.softmax(self.net2(x), dim=1)
        if name != 'mean':
            raise ValueError(f'predictor must be one of {INFER_WITH}, got {name!r}')
        return lambda x: 0.5 * (torch.softmax(self.net1(x), 1) + torch.softmax(self.net2(x), 1))

    def predictor_probs(self, volume: torch.Tensor,
                        names: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Probabilities of SN1, SN2 and/or their mean with one pass per network.

        Sliding-window blending is a weighted average of window outputs, so
        the mean of the two networks' blended maps equals the blended mean of
        their window probabilities (up to float rounding): ``'mean'`` costs
        no third pass.

        Args:
            volume (Tensor): ``(B, C, D, H, W)``.
            names (Sequence[str]): Names from :data:`INFER_WITH`.

        Returns:
            dict: name -> ``(B, K, D, H, W)`` probabilities.
        """
        nets = {n for n in names if n != 'mean'}
        if 'mean' in names:
            nets |= {'net1', 'net2'}
        probs = {n: self.slide_probs(volume, self.inference_predictor(n)) for n in sorted(nets)}
        if 'mean' in names:
            probs['mean'] = 0.5 * (probs['net1'] + probs['net2'])
        return {n: probs[n] for n in names}

    @staticmethod
    def fixed_crops(context: torch.Tensor, samples: Sequence[VolSegDataSample]) -> torch.Tensor:
        """Cut the fixed crops out of unlabeled context regions.

        Args:
            context (Tensor): ``(B_u, C, D', H', W')``.
            samples: Unlabeled samples with ``fixed_origin`` and ``fixed_size``.

        Returns:
            Tensor: ``(B_u, C, d, h, w)``.
        """
        origins = {tuple(s.metainfo['fixed_origin']) for s in samples}
        sizes = {tuple(s.metainfo['fixed_size']) for s in samples}
        if len(origins) != 1 or len(sizes) != 1:
            raise ValueError(f'Fixed crops of one batch must share origin and size, got '
                             f'{sorted(origins)} / {sorted(sizes)}')
        (o0, o1, o2), (s0, s1, s2) = origins.pop(), sizes.pop()
        return context[:, :, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2]

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        return add_uniform_noise(x, self.noise)

    def loss(self, inputs: Dict[str, torch.Tensor],
             data_samples: List[VolSegDataSample]) -> Dict[str, torch.Tensor]:
        """Losses of both sub-networks on one two-stream batch.

        Args:
            inputs (dict): ``labeled`` ``(B_l, C, d, h, w)`` (or None) and
                ``unlabeled`` context regions ``(B_u, C, D', H', W')``, as
                produced by :class:`VolSegDataPreprocessor`.
            data_samples (list): Labeled samples first, then unlabeled ones.

        Returns:
            dict: ``loss_sup_i`` and ``loss_<term>_i`` for i in 1, 2, plus
            the statistic ``unsup_w`` (not a loss).
        """
        if not isinstance(inputs, dict):
            return self._loss_labeled_only(inputs, data_samples)
        x_l, ctx = inputs['labeled'], inputs['unlabeled']
        n_l = 0 if x_l is None else x_l.shape[0]
        lab_samples, unl_samples = data_samples[:n_l], data_samples[n_l:]
        x_u = self.fixed_crops(ctx, unl_samples)
        losses: Dict[str, torch.Tensor] = {}
        use_unsup = self.unsup_weight > 0
        terms: List[str] = []
        if use_unsup:
            missing = [s.metainfo.get('case_id') for s in unl_samples if 'pseudo_labels' not in s]
            if missing:
                raise RuntimeError(
                    f'Unlabeled samples {missing} carry no pseudo-labels although '
                    f'unsup_weight={self.unsup_weight}; add PseudoLabelHook to custom_hooks')
            pl0 = unl_samples[0].pseudo_labels
            terms = sorted({k.rsplit('_', 1)[0] for k in pl0.keys()
                            if k.endswith(('_1', '_2')) and not k.startswith('w_')})
        y_l = stack_labels(lab_samples).to(x_u.device) if n_l else None
        for i, net in ((1, self.net1), (2, self.net2)):
            x_ui = x_u
            if i in self.cut_students and use_unsup:
                x_ui = self._cut_images(x_u, unl_samples)
            x = x_ui if x_l is None else torch.cat([x_l, x_ui])
            logits = net(self._noisy(x))
            if n_l:
                losses[f'loss_sup_{i}'] = self.loss_sup(logits[:n_l], y_l)
            for term in terms:
                target = stack_labels(unl_samples, f'{term}_{i}', group='pseudo_labels')
                weight = None
                if f'w_{term}_{i}' in unl_samples[0].pseudo_labels:
                    weight = torch.stack([s.pseudo_labels.get(f'w_{term}_{i}')[0]
                                          for s in unl_samples]).float()
                lam = self.unsup_weight * float(self.unsup_weights.get(term, 1.0))
                losses[f'loss_{term}_{i}'] = lam * self.loss_unsup(
                    logits[n_l:], target.to(logits.device),
                    None if weight is None else weight.to(logits.device))
        losses['unsup_w'] = torch.tensor(float(self.unsup_weight), device=x_u.device)
        return losses

    def _loss_labeled_only(self, inputs: torch.Tensor,
                           data_samples: List[VolSegDataSample]) -> Dict[str, torch.Tensor]:
        y = stack_labels(data_samples).to(inputs.device)
        return {f'loss_sup_{i}': self.loss_sup(net(self._noisy(inputs)), y)
                for i, net in ((1, self.net1), (2, self.net2))}

    @staticmethod
    def _cut_images(x_u: torch.Tensor, samples: Sequence[VolSegDataSample]) -> torch.Tensor:
        from fdpl.pseudo_labels.functional import cut_mix
        pl = [s.pseudo_labels for s in samples]
        if 'cut_mask' not in pl[0]:
            return x_u
        masks = torch.stack([p.cut_mask[0] for p in pl]).to(x_u.device)
        partners = torch.tensor([s.metainfo['cut_partner'] for s in samples],
                                device=x_u.device)
        return cut_mix(x_u, masks, partners)
