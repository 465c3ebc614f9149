"""Makes the pseudo-labels of each training batch before the step."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_dist_info, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from fdpl.models.utils import teacher_mode
from fdpl.pseudo_labels.base import BasePseudoLabeler, PseudoLabel
from fdpl.pseudo_labels.functional import crop_windows
from fdpl.registry import HOOKS, PSEUDO_LABELERS
from fdpl.structures import VoxelData
from ..weight_schedule import unsup_weight

DEFAULT_STRATEGIES = OrderedDict(
    fix=dict(type='FixedPseudoLabel'), dyn=dict(type='DynamicPseudoLabel'))


def _dice(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a > 0, b > 0
    den = a.sum() + b.sum()
    return 1.0 if den == 0 else float(2 * (a & b).sum() / den)


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Attach fixed / dynamic (or any strategy's) pseudo-labels to each batch.

    In ``before_train_iter`` the hook takes the unwrapped
    :class:`~fdpl.models.SemiSupervisedSegmentor`, and for each student
    ``i`` lets the peer sub-network teach under ``torch.no_grad()`` in the
    configured BatchNorm/dropout mode:

    1. collect, for every unlabeled context region of the batch, the fixed
       crop and the windows each strategy asks for (plus the labeled
       crops, for monitoring), and run the teacher on all of them in chunks
       of ``teacher_batch_size``;
    2. let each strategy turn the probabilities into labels
       (``<name>_<i>``, optional weights ``w_<name>_<i>``);
    3. for the model's ``cut_students``, mix those labels with the CUT
       masks drawn once per iteration (the model mixes the images);
    4. attach everything as ``data_sample.pseudo_labels`` of the unlabeled
       samples of ``data_batch`` (the object the loop then hands to
       ``train_step``), and set ``model.unsup_weight``.

    During the supervised warm-up (weight 0) no teacher pass is run.
    Statistics go to the message hub under ``train/pl_*``: foreground
    fraction of every label, disagreement of the first two strategies'
    labels, and (monitoring only, never used for training) their Dice
    against the ground truth that the unlabeled cases may carry, and the
    teacher's Dice on the labeled crops.

    Args:
        strategies (dict): ``name -> strategy config`` (registry
            ``PSEUDO_LABELERS``); a ``None`` value switches a strategy off
            (e.g. ``strategies=dict(fix=..., dyn=None)``). Defaults to
            ``fix=FixedPseudoLabel``, ``dyn=DynamicPseudoLabel``.
        cut (dict, optional): CUT config (``type='CutMix'``); None disables
            CUT. Defaults to ``dict(type='CutMix')``.
        teacher_mode (str): 'train_frozen', 'eval' or 'train', see
            :func:`fdpl.models.utils.teacher_mode`.
        teacher_batch_size (int, optional): Windows per teacher forward;
            None = all windows of the batch in one pass.
        weight_max, warmup_iters, rampup_iters, rampup_step, ramp: The
            schedule, see :func:`fdpl.engine.weight_schedule.unsup_weight`.
        seed (int, optional): Seed of the shift and CUT draws; defaults to
            the runner's seed. Offset by the rank.
        monitor (bool): Log pseudo-label statistics. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, strategies: Optional[Dict[str, dict]] = None,
                 cut: Optional[dict] = dict(type='CutMix'), teacher_mode: str = 'train_frozen',
                 teacher_batch_size: Optional[int] = None, weight_max: float = 1.0,
                 warmup_iters: int = 0, rampup_iters: int = 6000, rampup_step: int = 150,
                 ramp: str = 'sigmoid', seed: Optional[int] = None, monitor: bool = True) -> None:
        strategies = DEFAULT_STRATEGIES if strategies is None else strategies
        self.strategies: Dict[str, BasePseudoLabeler] = OrderedDict()
        for name, cfg in strategies.items():
            if cfg is None:  # a config switched this strategy off
                continue
            if '_' in name or not name.isidentifier():
                raise ValueError(f'Strategy name {name!r} must be an identifier without "_"')
            strategy = PSEUDO_LABELERS.build(cfg) if isinstance(cfg, dict) else cfg
            if not isinstance(strategy, BasePseudoLabeler):
                raise TypeError(f'Strategy {name!r} is a {type(strategy).__name__}, '
                                'expected a BasePseudoLabeler subclass')
            self.strategies[name] = strategy
        if not self.strategies:
            raise ValueError('PseudoLabelHook needs at least one strategy that is not None')
        self.cut = PSEUDO_LABELERS.build(cut) if isinstance(cut, dict) else cut
        if teacher_mode not in ('train_frozen', 'eval', 'train'):
            raise ValueError(f"teacher_mode must be 'train_frozen', 'eval' or 'train', "
                             f'got {teacher_mode!r}')
        self.teacher_mode = teacher_mode
        self.teacher_batch_size = teacher_batch_size
        self.schedule = dict(weight_max=weight_max, warmup_iters=warmup_iters,
                             rampup_iters=rampup_iters, rampup_step=rampup_step, ramp=ramp)
        unsup_weight(0, **self.schedule)  # validates the options now
        self.seed = seed
        self.monitor = monitor
        self.generator: Optional[torch.Generator] = None

    # ------------------------------------------------------------------ state
    def before_run(self, runner) -> None:
        model = self._model(runner)
        for attr in ('nets', 'cut_students', 'unsup_weight'):
            if not hasattr(model, attr):
                raise TypeError(f'PseudoLabelHook needs a SemiSupervisedSegmentor-like model '
                                f'(missing {attr!r}), got {type(model).__name__}')
        seed = self.seed if self.seed is not None else (runner.seed or 0)
        rank, _ = get_dist_info()
        self.generator = torch.Generator().manual_seed(int(seed) + 1000003 * rank)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.generator is not None:
            checkpoint['pseudo_label_hook'] = dict(generator=self.generator.get_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('pseudo_label_hook')
        if state is not None and self.generator is not None:
            self.generator.set_state(state['generator'])

    # ------------------------------------------------------------------ work
    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        model = self._model(runner)
        w = unsup_weight(runner.iter, **self.schedule)
        model.unsup_weight = w
        runner.message_hub.update_scalar('train/unsup_weight', w)
        if w <= 0 or data_batch is None:
            return
        stats = self.make_pseudo_labels(model, data_batch)
        if self.monitor:
            names = sorted(stats)
            values = torch.tensor([stats[k] for k in names], dtype=torch.float64)
            if get_world_size() > 1:
                all_reduce(values, op='mean')
            for k, v in zip(names, values.tolist()):
                runner.message_hub.update_scalar(f'train/pl_{k}', v)

    @torch.no_grad()
    def make_pseudo_labels(self, model, data_batch: dict) -> Dict[str, float]:
        """Compute and attach the pseudo-labels of one raw batch.

        Args:
            model: The unwrapped semi-supervised segmentor.
            data_batch (dict): ``inputs`` (list of ``(C, D, H, W)``) and
                ``data_samples`` as produced by the dataloader.

        Returns:
            dict: Monitoring statistics (plain floats).
        """
        samples = data_batch['data_samples']
        device = next(model.parameters()).device
        unl = [i for i, s in enumerate(samples) if 'context_mask' in s]
        lab = [i for i, s in enumerate(samples) if 'context_mask' not in s]
        if not unl:
            raise ValueError('The batch has no unlabeled context region; PseudoLabelHook needs '
                             'an unlabeled stream whose pipeline ends with ContextCrop3D')
        unl_samples = [samples[i] for i in unl]
        context = torch.stack([data_batch['inputs'][i] for i in unl]).to(device).float()
        cmask = torch.stack([s.context_mask.data for s in unl_samples]).to(device)
        origin = tuple(int(v) for v in unl_samples[0].metainfo['fixed_origin'])
        size = tuple(int(v) for v in unl_samples[0].metainfo['fixed_size'])
        x_l = (torch.stack([data_batch['inputs'][i] for i in lab]).to(device).float()
               if lab else None)
        b = len(unl)
        fixed = torch.as_tensor(origin, dtype=torch.long).view(1, 1, 3).expand(b, 1, 3)
        stats: Dict[str, float] = {}
        labels: Dict[str, torch.Tensor] = {}
        cut = None
        if self.cut is not None and b > 1:
            cut = self.cut.draw(b, size, generator=self.generator)
        for student, teacher_net in ((1, model.nets[1]), (2, model.nets[0])):
            # fresh windows per teacher: each draws its own shifts
            origins = {n: s.windows(cmask, origin, size, self.generator).cpu()
                       for n, s in self.strategies.items()}
            all_origins = torch.cat([fixed] + list(origins.values()), dim=1)
            windows = crop_windows(context, all_origins.to(device), size).flatten(0, 1)
            batch = windows if x_l is None else torch.cat([x_l, windows])
            probs = self._teach(teacher_net, batch)
            n_l = 0 if x_l is None else x_l.shape[0]
            if n_l and self.monitor:
                gt = torch.stack([samples[i].gt_sem_seg.data[0] for i in lab]).to(device)
                stats[f'teacher{3 - student}_dice_labeled'] = _dice(probs[:n_l].argmax(1), gt)
            probs = probs[n_l:].view(b, all_origins.shape[1], *probs.shape[1:])
            start = 1
            results: Dict[str, PseudoLabel] = OrderedDict()
            for name, strategy in self.strategies.items():
                k = origins[name].shape[1]
                results[name] = strategy.label(probs[:, 0], probs[:, start:start + k],
                                               origins[name].to(device), origin)
                start += k
            if self.monitor:
                stats.update(self._stats(results, unl_samples, origin, size, student))
            for name, res in results.items():
                lbl, wgt = res.labels, res.weights
                if cut is not None and student in model.cut_students:
                    lbl = self.cut.apply(lbl, *cut)
                    wgt = None if wgt is None else self.cut.apply(wgt, *cut)
                labels[f'{name}_{student}'] = lbl
                if wgt is not None:
                    labels[f'w_{name}_{student}'] = wgt
        for j, s in enumerate(unl_samples):
            fields = {k: v[j:j + 1].cpu() for k, v in labels.items()}
            if cut is not None:
                fields['cut_mask'] = cut[0][j:j + 1]
                s.set_metainfo(dict(cut_partner=int(cut[1][j])))
            s.pseudo_labels = VoxelData(**fields)
        return stats

    def _teach(self, net: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        chunk = self.teacher_batch_size or batch.shape[0]
        with teacher_mode(net, self.teacher_mode):
            outs = [torch.softmax(net(batch[i:i + chunk]), dim=1)
                    for i in range(0, batch.shape[0], chunk)]
        return torch.cat(outs)

    def _stats(self, results: Dict[str, PseudoLabel], samples: Sequence, origin: Sequence[int],
               size: Sequence[int], student: int) -> Dict[str, float]:
        out: Dict[str, float] = {}
        names: List[str] = list(results)
        for name, res in results.items():
            out[f'{name}{student}_fg'] = float((res.labels > 0).float().mean())
            for k, v in res.stats.items():
                out[f'{name}{student}_{k}'] = float(v)
        if len(names) > 1:
            a, b = results[names[0]].labels, results[names[1]].labels
            out[f'{names[0]}_{names[1]}{student}_differ'] = float((a != b).float().mean())
        if all('gt_sem_seg' in s for s in samples):
            (o0, o1, o2), (s0, s1, s2) = origin, size
            gt = torch.stack([s.gt_sem_seg.data[0, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2]
                              for s in samples])
            for name, res in results.items():
                out[f'{name}{student}_dice_gt'] = _dice(res.labels.cpu(), gt)
        return out
