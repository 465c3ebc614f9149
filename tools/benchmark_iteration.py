"""Time per training iteration: supervised-only versus FDPL, side by side.

Builds the models and the pseudo-label hook of config pairs, feeds them
random batches of the configs' shapes and times, interleaved in one run
(the machine may be shared and noisy):

* the supervised step (forward + loss, backward, SGD update of one network);
* the FDPL iteration: pseudo-label production (the hook's stages: prepare
  windows, teacher passes, strategies + CUT, monitoring, attach) and the
  student step of both sub-networks (preprocess, forward + loss, backward,
  optimizer), exactly as ``BaseModel.train_step`` runs it.

Each stage is timed on the wall clock and on the process CPU clock. On a
shared machine the CPU clock with ``--threads 1`` is the steadiest measure
of work (it does not count time spent waiting for a core); the wall clock
is what a user waits for. Prints a by-stage table and the ratios per pair;
``--out`` writes everything as JSON.

Usage::

    python tools/benchmark_iteration.py SUP_CONFIG FDPL_CONFIG [SUP_CONFIG FDPL_CONFIG ...]
        [--iters 5] [--warmup 1] [--threads N] [--teacher-batch-size N] [--amp]
        [--profile DIR] [--memory] [--out benchmark.json] [--deterministic-cost]
        [--channels-last-cost]

Several pairs are interleaved iteration by iteration, so their ratios are
measured under the same load.

``--profile DIR`` runs one more iteration of each pair under
``torch.profiler``, prints the operators that take the most time and writes
Chrome traces to DIR (the hook's stages appear as ``pseudo_labels/<stage>``
ranges).

``--memory`` measures the peak memory of one iteration of each model, each
in a fresh subprocess: on CUDA the peak of ``torch.cuda.max_memory_allocated``
above what was allocated before the iteration, on CPU the increase of the
peak resident set size (``VmHWM``, reset through ``/proc/self/clear_refs``)
over the resident size before the iteration; for FDPL also per phase
(pseudo-labels, students). A full-scale LA pair takes tens of seconds.

``--amp`` runs both models in mixed precision: on CUDA with mmengine's
``AmpOptimWrapper`` (fp16; the hook's teachers follow the wrapper, as in
``tools/train.py --amp``), on CPU (where that wrapper is refused) with
bfloat16 autocast around the forward passes of the students and teachers.

``--deterministic-cost`` times every step twice per iteration, with
``torch.use_deterministic_algorithms`` (and cuDNN deterministic, no
benchmark) off and on, alternating which goes first, and reports the ratio:
the measured cost of ``tools/train.py --deterministic``.

``--channels-last-cost`` does the same with the networks' 5D weights in the
default layout and in ``torch.channels_last_3d`` (what ``model.channels_last
= True`` sets), and reports the ratio.
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fdpl.testing import demo_two_stream_batch


def _patch_and_shift(cfg: Config):
    """Patch size and context margin of the unlabeled pipeline of a config."""
    for t in cfg.train_dataloader.dataset.datasets[1].pipeline:
        if t['type'] == 'ContextCrop3D':
            return tuple(t['crop_size']), tuple(t['max_shift'])
    raise KeyError('no ContextCrop3D in the unlabeled pipeline of the FDPL config')


#: Stages of each timed step, in the order they run.
STAGES = dict(
    sup=('preprocess', 'forward+loss', 'backward', 'optimizer'),
    pl=('prepare', 'teacher', 'label', 'monitor', 'attach'),
    student=('preprocess', 'forward+loss', 'backward', 'optimizer'))
_TITLES = dict(sup='supervised step', pl='pseudo-labels', student='student step (both nets)')


class _Clock:
    """Accumulates wall and process-CPU seconds per named stage."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.wall: Dict[str, float] = defaultdict(float)
        self.cpu: Dict[str, float] = defaultdict(float)
        self.prefix = ''

    def sync(self) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        name = self.prefix + name
        with torch.profiler.record_function(name):
            self.sync()
            w0, c0 = time.perf_counter(), time.process_time()
            yield
            self.sync()
            self.wall[name] += time.perf_counter() - w0
            self.cpu[name] += time.process_time() - c0


def _train_step(model, batch: dict, optim_wrapper, clock: _Clock, prefix: str,
                autocast_kwargs: Optional[dict]) -> None:
    """``BaseModel.train_step`` split into timed stages (same calls, same order)."""
    from mmengine.runner.amp import autocast
    amp = autocast(**autocast_kwargs) if autocast_kwargs is not None else nullcontext()
    clock.prefix = prefix
    with clock.stage('preprocess'), optim_wrapper.optim_context(model):
        data = model.data_preprocessor(batch, True)
    with clock.stage('forward+loss'):
        with optim_wrapper.optim_context(model), amp:
            losses = model._run_forward(data, mode='loss')
        loss, _ = model.parse_losses(losses)
    with clock.stage('backward'):
        optim_wrapper.backward(loss)
    with clock.stage('optimizer'):
        optim_wrapper.step()
        optim_wrapper.zero_grad()
    clock.prefix = ''


class _Pair:
    """Models, optimizers, hook and batch shapes of one (supervised, FDPL) pair."""

    def __init__(self, sup_config: str, fdpl_config: str, device: str, args,
                 which: Sequence[str] = ('sup', 'fdpl')) -> None:
        from mmengine.optim import build_optim_wrapper

        from fdpl.registry import HOOKS, MODELS
        self.name = osp.splitext(osp.basename(fdpl_config))[0]
        self.configs = (sup_config, fdpl_config)
        self.device = device
        sup_cfg, semi_cfg = Config.fromfile(sup_config), Config.fromfile(fdpl_config)
        try:
            from fdpl.utils import derive_context_margin
        except ImportError:  # a checkout from before model.semi_train_cfg
            derive_context_margin = None
        if derive_context_margin is not None:
            # the context margin follows model.semi_train_cfg.shift
            derive_context_margin(semi_cfg)
        self.patch, self.shift = _patch_and_shift(semi_cfg)
        sampler = semi_cfg.train_dataloader.sampler
        self.n_lab, self.n_unl = sampler['labeled_per_batch'], sampler['unlabeled_per_batch']
        self.sup_batch = sup_cfg.train_dataloader.batch_size
        cuda_amp = args.amp and device == 'cuda'
        # CPU: mmengine's AmpOptimWrapper needs CUDA; autocast the forwards instead
        self.autocast = dict(dtype=torch.bfloat16) if args.amp and device == 'cpu' else None

        def optim(model, cfg):
            cfg = copy.deepcopy(cfg.optim_wrapper)
            if cuda_amp:
                cfg.type = 'AmpOptimWrapper'
                cfg.setdefault('loss_scale', 'dynamic')
            return build_optim_wrapper(model, cfg)

        self.sup = self.semi = self.hook = None
        if 'sup' in which:
            self.sup = MODELS.build(sup_cfg.model).to(device)
            self.sup_optim = optim(self.sup, sup_cfg)
        if 'fdpl' in which:
            self.semi = MODELS.build(semi_cfg.model).to(device)
            self.semi_optim = optim(self.semi, semi_cfg)
            hook_cfg = [h for h in semi_cfg.custom_hooks if h['type'] == 'PseudoLabelHook'][0]
            self.hook = HOOKS.build(hook_cfg)
            if hasattr(self.hook, 'configure'):
                # the method's settings come from model.semi_train_cfg
                self.hook.configure(self.semi)
            self.hook.generator = torch.Generator().manual_seed(0)
            if args.teacher_batch_size is not None:
                self.hook.teacher_batch_size = args.teacher_batch_size or None
            if cuda_amp:
                from fdpl.engine.hooks.pseudo_label_hook import _amp_autocast_kwargs
                self.hook.teacher_autocast = _amp_autocast_kwargs(self.semi_optim)
            elif self.autocast is not None:
                self.hook.teacher_autocast = dict(self.autocast)
            self.semi.unsup_weight = 1.0

    def sup_step(self, clock: _Clock) -> None:
        self.sup.train()
        b = demo_two_stream_batch(self.sup_batch, 0, self.patch, self.shift)
        with clock.stage('sup/total'):
            _train_step(self.sup, b, self.sup_optim, clock, 'sup/', self.autocast)

    def fdpl_step(self, clock: _Clock, phase_hook=None) -> None:
        self.semi.train()
        b = demo_two_stream_batch(self.n_lab, self.n_unl, self.patch, self.shift)

        @contextmanager
        def pl_stage(name):
            with clock.stage('pl/' + name):
                yield

        self.hook.stage_timer = pl_stage
        try:
            with clock.stage('pl/total'):
                self.hook.make_pseudo_labels(self.semi, b)
        finally:
            self.hook.stage_timer = None
        if phase_hook is not None:
            phase_hook('pseudo_labels')
        with clock.stage('student/total'):
            _train_step(self.semi, b, self.semi_optim, clock, 'student/', self.autocast)
        if phase_hook is not None:
            phase_hook('students')

    def one_iteration(self, sup_first: bool) -> Dict[str, Tuple[float, float]]:
        clock = _Clock(self.device)
        for step in ((self.sup_step, self.fdpl_step) if sup_first else
                     (self.fdpl_step, self.sup_step)):
            step(clock)
        return {k: (clock.wall[k], clock.cpu[k]) for k in clock.wall}


def _summary(rows: Dict[str, List[Tuple[float, float]]]) -> dict:
    """Medians per stage and clock, totals and ratios of one pair."""
    med = {clk: {k: statistics.median(v[i] for v in vals) for k, vals in rows.items()}
           for i, clk in enumerate(('wall', 'cpu'))}
    out = dict(median_seconds=med)
    for clk, m in med.items():
        fdpl = m['pl/total'] + m['student/total']
        out[clk] = dict(sup_step=m['sup/total'], pseudo_labels=m['pl/total'],
                        student_step=m['student/total'], fdpl_total=fdpl,
                        fdpl_over_sup=fdpl / m['sup/total'],
                        pseudo_label_share=m['pl/total'] / fdpl)
    return out


def _print_table(pair: _Pair, summary: dict, iters: int) -> None:
    med = summary['median_seconds']
    wall_fdpl, cpu_fdpl = summary['wall']['fdpl_total'], summary['cpu']['fdpl_total']
    print(f'\n== {pair.name}: {pair.configs[0]} vs {pair.configs[1]}')
    print(f'   median of {iters} iterations; seconds per iteration; share = of the FDPL '
          'iteration')
    print(f"   {'stage':34s} {'wall s':>8s} {'share':>6s} {'cpu s':>8s} {'share':>6s}")

    def line(label, key, indent=3):
        w, c = med['wall'].get(key, 0.0), med['cpu'].get(key, 0.0)
        share = key != 'sup/total' and not key.startswith('sup/')
        ws = f'{100 * w / wall_fdpl:5.1f}%' if share else ''
        cs = f'{100 * c / cpu_fdpl:5.1f}%' if share else ''
        print(f"{' ' * indent}{label:{37 - indent}s} {w:8.3f} {ws:>6s} {c:8.3f} {cs:>6s}")

    line(_TITLES['sup'], 'sup/total')
    for s in STAGES['sup']:
        line(s, f'sup/{s}', 6)
    for part in ('pl', 'student'):
        line(_TITLES[part], f'{part}/total')
        for s in STAGES[part]:
            if f'{part}/{s}' in med['wall']:
                line(s, f'{part}/{s}', 6)
    for clk in ('wall', 'cpu'):
        r = summary[clk]
        print(f"   {clk:4s}: supervised {r['sup_step']:.3f} s, FDPL {r['fdpl_total']:.3f} s "
              f"(x{r['fdpl_over_sup']:.2f}); pseudo-labels {100 * r['pseudo_label_share']:.1f} %")


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def _memory_child(args, device: str) -> None:
    """One iteration of one model (``args.memory_child``); prints a JSON line."""
    which = args.memory_child
    pair = _Pair(args.configs[0], args.configs[1], device, args, which=(which, ))
    result: Dict[str, object] = dict(model=which, device=device)

    def reset() -> None:
        if device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            with open('/proc/self/clear_refs', 'w') as f:  # resets VmHWM to VmRSS
                f.write('5')

    def now_and_peak() -> Tuple[float, float]:
        if device == 'cuda':
            torch.cuda.synchronize()
            return (torch.cuda.memory_allocated() / 2**20,
                    torch.cuda.max_memory_allocated() / 2**20)
        return _rss_kib('VmRSS') / 1024, _rss_kib('VmHWM') / 1024

    before = now_and_peak()[0]
    reset()
    phases: Dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = now_and_peak()[1] - before  # peak of the phase above the baseline
        reset()

    clock = _Clock(device)
    if which == 'sup':
        pair.sup_step(clock)
        phase('step')
    else:
        pair.fdpl_step(clock, phase_hook=phase)
    result.update(baseline_mib=before, peak_increase_mib=max(phases.values()),
                  phases_mib=phases,
                  seconds=sum(clock.wall.get(k, 0.0)
                              for k in ('sup/total', 'pl/total', 'student/total')))
    print('MEMORY ' + json.dumps(result), flush=True)


def _memory(args, pairs: List[_Pair]) -> dict:
    out = {}
    for pair in pairs:
        out[pair.name] = {}
        for which in ('sup', 'fdpl'):
            cmd = [sys.executable, osp.abspath(__file__), *pair.configs, '--memory-child',
                   which, '--threads', str(torch.get_num_threads())]
            if args.amp:
                cmd.append('--amp')
            if args.teacher_batch_size is not None:
                cmd += ['--teacher-batch-size', str(args.teacher_batch_size)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('MEMORY ')]
            if proc.returncode or not lines:
                raise RuntimeError(f'memory run failed: {" ".join(cmd)}\n{proc.stderr[-3000:]}')
            out[pair.name][which] = json.loads(lines[-1][len('MEMORY '):])
        sup, fdpl = out[pair.name]['sup'], out[pair.name]['fdpl']
        unit = 'MiB of CUDA memory' if pair.device == 'cuda' else 'MiB of peak RSS'
        print(f"\n== peak memory of one iteration, {pair.name} ({unit} above the state before "
              f"the iteration)\n   supervised {sup['peak_increase_mib']:.0f}; FDPL "
              f"{fdpl['peak_increase_mib']:.0f} (pseudo-labels "
              f"{fdpl['phases_mib']['pseudo_labels']:.0f}, students "
              f"{fdpl['phases_mib']['students']:.0f}); x"
              f"{fdpl['peak_increase_mib'] / max(sup['peak_increase_mib'], 1e-9):.2f}")
    return out


def _profile(pairs: List[_Pair], out_dir: str, device: str) -> None:
    from torch.profiler import ProfilerActivity, profile
    os.makedirs(out_dir, exist_ok=True)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == 'cuda' else [])
    sort = 'self_cuda_time_total' if device == 'cuda' else 'self_cpu_time_total'
    for pair in pairs:
        for which, step in (('supervised', pair.sup_step), ('fdpl', pair.fdpl_step)):
            with profile(activities=activities) as prof:
                step(_Clock(device))
            path = osp.join(out_dir, f'{pair.name}_{which}.json')
            prof.export_chrome_trace(path)
            print(f'\n== torch.profiler, one {which} iteration of {pair.name} (trace: {path})')
            print(prof.key_averages().table(sort_by=sort, row_limit=14))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+',
                        help='SUP_CONFIG FDPL_CONFIG, possibly several pairs')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--teacher-batch-size', type=int, default=None,
                        help="override model.semi_train_cfg.teacher_batch_size (0 = None)")
    parser.add_argument('--amp', action='store_true', help='mixed precision, see above')
    parser.add_argument('--profile', metavar='DIR', default=None,
                        help='profile one more iteration of each pair, traces to DIR')
    parser.add_argument('--memory', action='store_true',
                        help='peak memory of one iteration of each model (subprocesses)')
    parser.add_argument('--memory-child', choices=('sup', 'fdpl'), help=argparse.SUPPRESS)
    parser.add_argument('--out', default=None, help='write the timings as JSON')
    parser.add_argument('--deterministic-cost', action='store_true',
                        help='also time each step with deterministic algorithms on')
    parser.add_argument('--channels-last-cost', action='store_true',
                        help='also time each step with channels-last 3D weights')
    args = parser.parse_args()
    if len(args.configs) % 2:
        parser.error('configs come in pairs: SUP_CONFIG FDPL_CONFIG [...]')

    import fdpl  # noqa: F401
    init_default_scope('fdpl')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if args.memory_child:
        _memory_child(args, device)
        return
    pairs = [_Pair(args.configs[i], args.configs[i + 1], device, args)
             for i in range(0, len(args.configs), 2)]

    def set_deterministic(on: bool) -> None:
        torch.use_deterministic_algorithms(on)
        torch.backends.cudnn.deterministic = on
        torch.backends.cudnn.benchmark = False

    def set_mode(mode: str) -> None:
        set_deterministic(mode == '_det')
        layout = torch.channels_last_3d if mode == '_cl' else torch.contiguous_format
        for pair in pairs:
            for model in (pair.sup, pair.semi):
                if model is not None:
                    model.to(memory_format=layout)

    modes = ('', ) + (('_det', ) if args.deterministic_cost else ()) + \
        (('_cl', ) if args.channels_last_cost else ())
    mode_names = {'': '', '_det': ' deterministic', '_cl': ' channels-last'}
    rows: Dict[str, Dict[str, List[Tuple[float, float]]]] = {
        p.name + m: defaultdict(list) for p in pairs for m in modes}
    for it in range(args.warmup + args.iters if args.iters > 0 else 0):
        order = modes if it % 2 == 0 else modes[::-1]
        for mode in order:
            set_mode(mode)
            for pair in (pairs if it % 2 == 0 else pairs[::-1]):
                times = pair.one_iteration(sup_first=it % 2 == 0)
                if it >= args.warmup:
                    for k, v in times.items():
                        rows[pair.name + mode][k].append(v)
                print(f"iter {it}{mode_names[mode]} {pair.name}: supervised "
                      f"{times['sup/total'][0]:.3f} s | FDPL "
                      f"{times['pl/total'][0] + times['student/total'][0]:.3f} s "
                      f"(pseudo-labels {times['pl/total'][0]:.3f} s) wall", flush=True)
    set_mode('')

    result = dict(device=torch.cuda.get_device_name() if device == 'cuda' else 'cpu',
                  threads=torch.get_num_threads(), amp=args.amp, iters=args.iters,
                  teacher_batch_size=args.teacher_batch_size, pairs={})
    for pair in pairs if args.iters > 0 else ():
        summary = _summary(rows[pair.name])
        teacher_bs = pair.hook.teacher_batch_size
        result['pairs'][pair.name] = dict(
            sup_config=pair.configs[0], fdpl_config=pair.configs[1], patch=pair.patch,
            sup_batch=pair.sup_batch, fdpl_batch=f'{pair.n_lab}+{pair.n_unl}',
            teacher_mode=pair.hook.teacher_mode, teacher_batch_size=teacher_bs, **summary,
            samples={k: v for k, v in rows[pair.name].items()})
        _print_table(pair, summary, args.iters)
        if args.deterministic_cost:
            det = _summary(rows[pair.name + '_det'])
            ratio = {k: det['wall'][k] / summary['wall'][k] for k in ('sup_step', 'fdpl_total')}
            result['pairs'][pair.name]['deterministic_over_default'] = ratio
            print(f"   deterministic algorithms: supervised {det['wall']['sup_step']:.3f} s/it "
                  f"(x{ratio['sup_step']:.3f}), FDPL {det['wall']['fdpl_total']:.3f} s/it "
                  f"(x{ratio['fdpl_total']:.3f})")
        if args.channels_last_cost:
            cl = _summary(rows[pair.name + '_cl'])
            ratio = {k: cl['wall'][k] / summary['wall'][k]
                     for k in ('sup_step', 'pseudo_labels', 'fdpl_total')}
            result['pairs'][pair.name]['channels_last_over_default'] = ratio
            result['pairs'][pair.name]['channels_last'] = cl
            print(f"   channels-last weights: supervised {cl['wall']['sup_step']:.3f} s/it "
                  f"(x{ratio['sup_step']:.3f}), pseudo-labels {cl['wall']['pseudo_labels']:.3f} s "
                  f"(x{ratio['pseudo_labels']:.3f}), FDPL {cl['wall']['fdpl_total']:.3f} s/it "
                  f"(x{ratio['fdpl_total']:.3f}; "
                  f"x{cl['wall']['fdpl_total'] / cl['wall']['sup_step']:.2f} supervised)")
    if args.profile:
        _profile(pairs, args.profile, device)
    if args.memory:
        result['memory'] = _memory(args, pairs)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
