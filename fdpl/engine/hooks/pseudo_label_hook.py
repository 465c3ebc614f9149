"""Makes the pseudo-labels of each training batch before the step."""
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from typing import Callable, ContextManager, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, get_dist_info, get_world_size
from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmengine.runner.amp import autocast

from fdpl.models.segmentors.semi_train_cfg import (PATH, build_cut, build_strategies,
                                                   semi_context_margin, unknown_option)
from fdpl.models.utils import ReferenceStatsTeacher
from fdpl.pseudo_labels.base import BasePseudoLabeler, PseudoLabel
from fdpl.pseudo_labels.functional import class_argmax, crop_windows
from fdpl.registry import HOOKS
from fdpl.structures import VoxelData
from ..weight_schedule import unsup_weight

#: Hook options of earlier fdpl versions -> their key in ``model.semi_train_cfg``.
_MOVED = dict(strategies='strategies', cut='cut', teacher_mode='teacher_mode',
              teacher_batch_size='teacher_batch_size', weight_max='schedule.weight_max',
              warmup_iters='schedule.warmup_iters', rampup_iters='schedule.rampup_iters',
              rampup_step='schedule.rampup_step', ramp='schedule.ramp',
              shift_range='shift.range')


def _context_crops(dataset, path: str = 'train_dataloader.dataset'):
    """``(config path, ContextCrop3D)`` of every pipeline under a dataset."""
    from fdpl.datasets.transforms import ContextCrop3D
    for i, child in enumerate(getattr(dataset, 'datasets', None) or []):
        yield from _context_crops(child, f'{path}.datasets.{i}')
    child = getattr(dataset, 'dataset', None)
    if child is not None:
        yield from _context_crops(child, f'{path}.dataset')
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', None) or []
    for j, t in enumerate(transforms):
        if isinstance(t, ContextCrop3D):
            yield f'{path}.pipeline.{j}', t


def check_context_margin(dataset, semi_train_cfg) -> None:
    """Fail unless each ``ContextCrop3D`` margin is the one the shift settings need.

    Args:
        dataset: The (built) training dataset, e.g. a ``ConcatDataset``.
        semi_train_cfg: The model's normalized ``semi_train_cfg``.

    Raises:
        ValueError: Naming both options, ``...pipeline.<j>.max_shift`` and
            ``model.semi_train_cfg.shift.range``.
    """
    shift = semi_train_cfg['shift']
    for path, t in _context_crops(dataset):
        need = semi_context_margin(semi_train_cfg, t.crop_size)
        if tuple(t.max_shift) != tuple(need):
            raise ValueError(
                f'The context margin {path}.max_shift={tuple(t.max_shift)} (ContextCrop3D) '
                f'does not match {PATH}.shift.range={shift["range"]!r} on axes '
                f'{tuple(shift["axes"])} for crop {tuple(t.crop_size)}, which needs max_shift='
                f'{tuple(need)}. The margin is derived from {PATH}.shift by '
                'fdpl.utils.check_config (tools/train.py runs it before building the Runner); '
                'run it on the config, or set both options to agree.')


def _amp_autocast_kwargs(optim_wrapper) -> Optional[dict]:
    """``mmengine.runner.amp.autocast`` arguments of an AMP optimizer wrapper, or None.

    The teachers then run under the same autocast as the students (the
    wrapper's ``optim_context``); an ``OptimWrapperDict`` counts when any of
    its wrappers is an ``AmpOptimWrapper``.
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
    wrappers = (list(optim_wrapper.values()) if isinstance(optim_wrapper, OptimWrapperDict)
                else [optim_wrapper])
    for w in wrappers:
        if isinstance(w, AmpOptimWrapper):
            return dict(dtype=w.cast_dtype)
    return None


def _auto_teacher_batch(num_windows: int, device: torch.device) -> int:
    """Windows per teacher forward when ``teacher_batch_size`` is None.

    CUDA: all windows in one pass. CPU: two windows per thread, so that the
    activations of a pass stay in the caches. Measured on 2 cores (8- and
    16-filter V-Nets, 32 x 64 x 64 windows): with one thread, passes of 2
    cost 1.2-1.45x less CPU per window than one pass of 8; with two threads
    passes of 4 were about as fast as one pass of 8. A single window is
    never a pass on its own (see ``_teach``). The labels do not depend on
    the chunking.
    """
    if torch.device(device).type == 'cpu':
        return 2 * max(torch.get_num_threads(), 1)
    return max(num_windows, 1)


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
       crop and the windows each strategy asks for, and run the teacher on
       them: the fixed crops first (in the batch-statistics teacher modes
       their BatchNorm statistics normalise every window,
       :class:`~fdpl.models.utils.ReferenceStatsTeacher`), then the windows
       in chunks of ``teacher_batch_size``; the labels depend neither on
       the labeled crops nor on the chunking;
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
    teacher's Dice on the labeled crops (measured once per logging
    interval, with the statistics the labels were made with).

    The method's settings are not the hook's: it reads them from the
    model's ``semi_train_cfg`` (strategies, shift, CUT, teacher mode,
    teacher batch size, schedule; see
    :mod:`fdpl.models.segmentors.semi_train_cfg`) in :meth:`configure`,
    which ``before_run`` calls. ``before_run`` also checks that the context
    margin of every ``ContextCrop3D`` of the training data equals the one
    ``model.semi_train_cfg.shift`` needs (:func:`fdpl.utils.check_config`
    derives it, so a mismatch means that step was skipped).

    Args:
        seed (int, optional): Seed of the shift and CUT draws; defaults to
            the runner's seed. Offset by the rank.
        monitor (bool): Log pseudo-label statistics. Defaults to True.

    Raises:
        ValueError: A method option given to the hook (``strategies``,
            ``weight_max``, ...), naming where it lives now.
    """

    priority = 'NORMAL'

    def __init__(self, seed: Optional[int] = None, monitor: bool = True, **moved) -> None:
        for key in moved:
            if key in _MOVED:
                raise ValueError(
                    f'PseudoLabelHook({key}=...) is not read: the pseudo-label method\'s '
                    f'settings live in model.semi_train_cfg; set model.semi_train_cfg.'
                    f'{_MOVED[key]} instead (the hook in custom_hooks takes only seed and '
                    'monitor)')
            raise unknown_option('PseudoLabelHook', key, ('seed', 'monitor'))
        self.seed = seed
        self.monitor = monitor
        self.generator: Optional[torch.Generator] = None
        # set from the model's semi_train_cfg by configure()
        self._strategies: Optional[Dict[str, BasePseudoLabeler]] = None
        self.cut = None
        self.teacher_mode = 'train_frozen'
        self.teacher_batch_size: Optional[int] = None
        self.schedule: Dict[str, object] = dict(weight_max=0.0)

    @property
    def strategies(self) -> Dict[str, BasePseudoLabeler]:
        """``name -> strategy`` built from ``model.semi_train_cfg.strategies``."""
        if self._strategies is None:
            raise RuntimeError('PseudoLabelHook is not configured yet: call '
                               'hook.configure(model) first (before_run does)')
        return self._strategies

    def configure(self, model) -> None:
        """Read the method's settings from ``model.semi_train_cfg``.

        Args:
            model: The (unwrapped) semi-supervised segmentor.
        """
        cfg = getattr(model, 'semi_train_cfg', None)
        if cfg is None:
            raise TypeError(f'PseudoLabelHook needs a model with a semi_train_cfg '
                            f'(SemiSupervisedSegmentor), got {type(model).__name__}')
        self._strategies = build_strategies(cfg)
        self.cut = build_cut(cfg)
        self.teacher_mode = cfg.teacher_mode
        self.teacher_batch_size = cfg.teacher_batch_size
        self.schedule = dict(cfg.schedule)

    # ------------------------------------------------------------------ state
    def before_run(self, runner) -> None:
        model = self._model(runner)
        for attr in ('nets', 'cut_students', 'unsup_weight', 'semi_train_cfg'):
            if not hasattr(model, attr):
                raise TypeError(f'PseudoLabelHook needs a SemiSupervisedSegmentor-like model '
                                f'(missing {attr!r}), got {type(model).__name__}')
        self.configure(model)
        loop = getattr(runner, '_train_loop', None)
        if isinstance(loop, BaseLoop):  # training: the data pipeline is built
            check_context_margin(loop.dataloader.dataset, model.semi_train_cfg)
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
        stats = self.make_pseudo_labels(
            model, data_batch, monitor_labeled=self._monitor_labeled_due(runner))
        # the teachers' Dice on the labeled crops is measured once per logging
        # interval; its latest value is logged at every iteration
        measured = {k: v for k, v in stats.items() if k.endswith('_dice_labeled')}
        latest = self.__dict__.setdefault('_latest_labeled_dice', {})
        latest.update(measured)
        stats.update({k: v for k, v in latest.items() if k not in stats})
        if self.monitor:
            names = sorted(stats)
            values = torch.tensor([stats[k] for k in names], dtype=torch.float64)
            if get_world_size() > 1:
                all_reduce(values, op='mean')
            for k, v in zip(names, values.tolist()):
                runner.message_hub.update_scalar(f'train/pl_{k}', v)

    #: Optional ``name -> context manager`` factory timing the stages of
    #: :meth:`make_pseudo_labels` ('prepare', 'teacher', 'label', 'monitor',
    #: 'attach'); set by ``tools/benchmark_iteration.py``. Every stage is a
    #: ``torch.profiler`` range ``pseudo_labels/<stage>`` in any case.
    stage_timer: Optional[Callable[[str], ContextManager]] = None
    #: Keyword arguments of :func:`mmengine.runner.amp.autocast` for the
    #: teacher passes, or None (full precision). :meth:`before_train` sets it
    #: from the runner's optimizer wrapper, so ``--amp`` reaches the teachers.
    teacher_autocast: Optional[dict] = None

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        with torch.profiler.record_function(f'pseudo_labels/{name}'):
            if self.stage_timer is None:
                yield
            else:
                with self.stage_timer(name):
                    yield

    def before_train(self, runner) -> None:
        self.teacher_autocast = _amp_autocast_kwargs(getattr(runner, 'optim_wrapper', None))

    def _monitor_labeled_due(self, runner) -> bool:
        """Whether this iteration measures the teachers on the labeled crops.

        Once per logging interval, at its first iteration; the value is then
        logged at every iteration of the interval, so the log line (a window
        mean) shows one measurement.
        """
        if not self.monitor:
            return False
        interval = 50
        for h in getattr(runner, 'hooks', None) or ():
            if isinstance(h, LoggerHook):
                interval = h.interval
        return runner.iter % max(int(interval), 1) == 0

    @torch.no_grad()
    def make_pseudo_labels(self, model, data_batch: dict,
                           monitor_labeled: bool = False) -> Dict[str, float]:
        """Compute and attach the pseudo-labels of one raw batch.

        Each teacher sees, per unlabeled context region, the fixed crop and
        the windows the strategies ask for: the fixed crops first (in the
        batch-statistics teacher modes their BatchNorm statistics are the
        ones every window of the batch is normalised with, see
        :class:`~fdpl.models.utils.ReferenceStatsTeacher`), then the other
        windows in chunks of ``teacher_batch_size``. The labels therefore do
        not depend on the labeled crops of the batch nor on the chunking.

        Args:
            model: The unwrapped semi-supervised segmentor.
            data_batch (dict): ``inputs`` (list of ``(C, D, H, W)``) and
                ``data_samples`` as produced by the dataloader.
            monitor_labeled (bool): Also forward the labeled crops through
                each teacher (normalised like the windows; never used for a
                label) and return the teacher's Dice on them as
                ``teacher<j>_dice_labeled``. Costs ``B_l`` windows per
                teacher; ``before_train_iter`` asks for it once per logging
                interval. Defaults to False.

        Returns:
            dict: Monitoring statistics (plain floats); empty when the hook's
            ``monitor`` is False.
        """
        samples = data_batch['data_samples']
        device = next(model.parameters()).device
        with self._stage('prepare'):
            unl = [i for i, s in enumerate(samples) if 'context_mask' in s]
            lab = [i for i, s in enumerate(samples) if 'context_mask' not in s]
            if not unl:
                raise ValueError('The batch has no unlabeled context region; PseudoLabelHook '
                                 'needs an unlabeled stream whose pipeline ends with '
                                 'ContextCrop3D')
            unl_samples = [samples[i] for i in unl]
            context = torch.stack([data_batch['inputs'][i] for i in unl]).to(device).float()
            cmask = torch.stack([s.context_mask.data for s in unl_samples]).to(device)
            origin = tuple(int(v) for v in unl_samples[0].metainfo['fixed_origin'])
            size = tuple(int(v) for v in unl_samples[0].metainfo['fixed_size'])
            monitor_labeled = bool(monitor_labeled and self.monitor and lab)
            x_l = (torch.stack([data_batch['inputs'][i] for i in lab]).to(device).float()
                   if monitor_labeled else None)
            (o0, o1, o2), (s0, s1, s2) = origin, size
            x_f = context[:, :, o0:o0 + s0, o1:o1 + s1, o2:o2 + s2].contiguous()
            b = len(unl)
            cut = None
            if self.cut is not None and b > 1:
                cut = self.cut.draw(b, size, generator=self.generator)
        stats: Dict[str, float] = {}
        labels: Dict[str, torch.Tensor] = {}
        for student, teacher_net in ((1, model.nets[1]), (2, model.nets[0])):
            with self._stage('prepare'):
                # fresh windows per teacher: each draws its own shifts
                origins = {n: s.windows(cmask, origin, size, self.generator).cpu()
                           for n, s in self.strategies.items()}
                extra = torch.cat(list(origins.values()), dim=1)  # (B, N, 3)
                n_win = extra.shape[1]
                x_w = crop_windows(context, extra.to(device), size).flatten(0, 1)
            with self._stage('teacher'):
                p_f, p_w, p_l = self._teach(teacher_net, x_f, x_w, x_l)
            p_w = p_w.view(b, n_win, *p_w.shape[1:])
            if p_l is not None:
                with self._stage('monitor'):
                    gt = torch.stack([samples[i].gt_sem_seg.data[0] for i in lab]).to(device)
                    stats[f'teacher{3 - student}_dice_labeled'] = _dice(class_argmax(p_l, 1), gt)
            with self._stage('label'):
                start = 0
                results: Dict[str, PseudoLabel] = OrderedDict()
                for name, strategy in self.strategies.items():
                    k = origins[name].shape[1]
                    results[name] = strategy.label(p_f, p_w[:, start:start + k],
                                                   origins[name].to(device), origin)
                    start += k
                for name, res in results.items():
                    lbl, wgt = res.labels, res.weights
                    if cut is not None and student in model.cut_students:
                        lbl = self.cut.apply(lbl, *cut)
                        wgt = None if wgt is None else self.cut.apply(wgt, *cut)
                    labels[f'{name}_{student}'] = lbl
                    if wgt is not None:
                        labels[f'w_{name}_{student}'] = wgt
            if self.monitor:
                with self._stage('monitor'):
                    stats.update(self._stats(results, unl_samples, origin, size, student))
        with self._stage('attach'):
            for j, s in enumerate(unl_samples):
                fields = {k: v[j:j + 1].cpu() for k, v in labels.items()}
                if cut is not None:
                    fields['cut_mask'] = cut[0][j:j + 1]
                    s.set_metainfo(dict(cut_partner=int(cut[1][j])))
                s.pseudo_labels = VoxelData(**fields)
        return stats

    def _teach(self, net: torch.nn.Module, fixed: torch.Tensor, windows: torch.Tensor,
               labeled: Optional[torch.Tensor] = None
               ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Teacher probabilities on the fixed crops, the windows and the labeled crops.

        The network runs under ``torch.inference_mode`` (and the teacher
        autocast, if any) in the configured teacher mode; the fixed crops are
        the reference batch of :class:`~fdpl.models.utils.ReferenceStatsTeacher`,
        the windows follow in chunks of ``teacher_batch_size`` (None: all in
        one pass on CUDA, two per thread on CPU), the labeled crops
        (monitoring) last. The labels do not depend on the chunking.

        Args:
            net: The teaching sub-network.
            fixed (Tensor): ``(B_u, C, d, h, w)`` fixed crops.
            windows (Tensor): ``(N, C, d, h, w)`` the strategies' windows.
            labeled (Tensor, optional): ``(B_l, C, d, h, w)`` labeled crops.

        Returns:
            tuple: float32 softmax probabilities ``(B_u, K, d, h, w)``,
            ``(N, K, d, h, w)`` and ``(B_l, K, d, h, w)`` (or None).
        """
        n = windows.shape[0]
        chunk = self.teacher_batch_size or _auto_teacher_batch(n, fixed.device)
        amp = self.teacher_autocast

        def softmax(logits: torch.Tensor) -> torch.Tensor:
            # outside inference mode: the probabilities are ordinary tensors
            return torch.softmax(logits.float(), dim=1)

        def run(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                if x.shape[0] == 1 and x.device.type == 'cpu':
                    # PyTorch sends a one-sample 3D convolution with few channels to its
                    # slow reference kernel on CPU (2.5-5x slower than two samples);
                    # a copy of the sample keeps it on oneDNN. Same output per sample,
                    # same batch statistics.
                    return fn(torch.cat([x, x]))[:1]
                return fn(x)

        with ReferenceStatsTeacher(net, self.teacher_mode) as teacher, \
                (autocast(**amp) if amp is not None else nullcontext()):
            p_f = softmax(run(teacher.reference, fixed))
            outs = [softmax(run(teacher, windows[i:i + chunk])) for i in range(0, n, chunk)]
            p_w = torch.cat(outs) if outs else p_f.new_zeros((0, *p_f.shape[1:]))
            p_l = None if labeled is None else softmax(run(teacher, labeled))
        return p_f, p_w, p_l

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
