"""GPU benchmark of fdpl on full-resolution LA within a time budget (8 min with the shell script).

Called by ``tools/benchmark_gpu.sh``; runs four parts in order and rewrites
``summary.json`` and ``summary.md`` in the output folder after each one, so a
run cut short still leaves what it measured:

1. **Training speed**: iterations per second of supervised-only
   (``configs/supervised/vnet_la_10pct.py``, batch 4 labeled crops) and FDPL
   (``configs/fdpl/vnet_la_10pct.py``, batch 2 + 2: pseudo-labels of both
   teachers, then both student steps), each in float32 and with AMP
   (mmengine's ``AmpOptimWrapper``, what ``tools/train.py --amp`` uses), with
   the peak GPU memory of each. Batches: a few real batches from the configs'
   dataloaders, reused (so the figure is compute, not data loading), or random
   batches of the same shapes when the data is absent.
2. **Sliding window**: seconds per case of the full-size V-Net in the classic
   protocol, the fast Gaussian mode and the whole-volume mode (float32, and
   fast / whole under float16 autocast), on the first test case (or a random
   volume of its size, 88 x 132 x 175).
3. **Training run**: ``tools/train.py configs/fdpl/vnet_la_10pct.py`` (with
   ``--amp`` when part 1 found it faster) for as many iterations as the rest
   of the budget allows (no validation, no checkpoint), and the full
   schedule's time extrapolated from its log (plus validation, estimated from
   part 2). Needs the data.
4. Summary: ``summary.json`` and ``summary.md``.

**Getting the data there.** ``data/`` is not tracked by git, so a copy of the
working tree does not carry it. Either copy the whole of ``data/LA`` (223 MB)
to ``data/LA`` on the GPU machine (or anywhere, and point ``FDPL_DATA_ROOT``
at its parent), or make a subset small enough to travel with the tree::

    python tools/benchmark_gpu.py --make-subset data/gpu_subset   # about 56 MB

which copies the 8 labeled cases of the 10 % split, the first 15 unlabeled
ones and the first test case into ``data/gpu_subset/LA``; then run with
``FDPL_DATA_ROOT=data/gpu_subset``. With a subset, the parts train on the
cases present (iteration time does not depend on how many cases there are).
Without any data, parts 1 and 2 use random inputs and part 3 is skipped.

Usage::

    python tools/benchmark_gpu.py OUT_DIR [--budget 450] [--tiny] [--data-root data]
    python tools/benchmark_gpu.py --make-subset DST [--num-unlabeled 15]

``--tiny`` (or ``FDPL_BENCH_TINY=1``) shrinks networks, patches, volumes
and iteration counts so the whole chain runs on a CPU (6-25 s on 2 idle cores,
up to 90 s when they are shared); its figures mean nothing, it checks that the script works.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import datetime
from typing import Callable, Dict, List, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SUP_CONFIG = 'configs/supervised/vnet_la_10pct.py'
FDPL_CONFIG = 'configs/fdpl/vnet_la_10pct.py'
#: The volume of the first LA test case, ``(D, H, W)``.
LA_CASE_SHAPE = (88, 132, 175)
_TINY = dict(base_channels=2, patch=(16, 16, 16), volume=(16, 32, 32), stride=(16, 16, 16),
             warmup=1, iters=1, train_iters=2, threads=1)
_CASE_DIR = '2018LA_Seg_Training Set'


# ---------------------------------------------------------------- data
def _read_list(path: str) -> List[str]:
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def _case_file(la_root: str, case_id: str) -> str:
    return osp.join(la_root, _CASE_DIR, case_id, 'mri_norm2.h5')


def data_status(data_root: str, split_file: str) -> dict:
    """What of LA is present under ``data_root/LA`` for the 10 % split."""
    la_root = osp.join(data_root, 'LA')
    with open(split_file) as f:
        split = json.load(f)
    present = {key: [c for c in split.get(key, []) if osp.isfile(_case_file(la_root, c))]
               for key in ('labeled', 'unlabeled', 'val', 'test')}
    complete = all(len(present[k]) == len(split.get(k, [])) for k in present)
    usable = len(present['labeled']) >= 2 and len(present['unlabeled']) >= 2
    status = 'full' if complete else ('subset' if usable else 'absent')
    return dict(status=status, la_root=la_root,
                counts={k: f'{len(v)}/{len(split.get(k, []))}' for k, v in present.items()},
                present=present)


def write_subset_split(status: dict, split_file: str, dst: str) -> str:
    """A split file naming only the cases present (``labeled_num`` kept)."""
    with open(split_file) as f:
        split = json.load(f)
    labeled = status['present']['labeled']
    split.update(labeled=labeled, unlabeled=status['present']['unlabeled'],
                 val=status['present']['val'], test=status['present']['test'],
                 labeled_num=len(labeled))
    with open(dst, 'w') as f:
        json.dump(split, f, indent=1)
    return dst


def make_subset(src_root: str, dst_root: str, split_file: str, num_unlabeled: int) -> None:
    """Copy the labeled cases, a few unlabeled ones and one test case."""
    with open(split_file) as f:
        split = json.load(f)
    cases = split['labeled'] + split['unlabeled'][:num_unlabeled] + split['test'][:1]
    src, dst = osp.join(src_root, 'LA'), osp.join(dst_root, 'LA')
    size = 0
    for case in cases:
        target = _case_file(dst, case)
        os.makedirs(osp.dirname(target), exist_ok=True)
        shutil.copy2(_case_file(src, case), target)
        size += osp.getsize(target)
    for name in ('train.list', 'test.list'):
        if osp.isfile(osp.join(src, name)):
            shutil.copy2(osp.join(src, name), osp.join(dst, name))
    print(f'copied {len(cases)} cases ({size / 2**20:.1f} MiB) into {dst}; run with '
          f'FDPL_DATA_ROOT={dst_root}')


# ---------------------------------------------------------------- configs
def load_config(path: str, tiny: bool, data: dict, out_dir: str):
    """Config with the data root, the split of the cases present and tiny sizes."""
    from mmengine.config import Config

    from fdpl.utils import check_config
    cfg = Config.fromfile(osp.join(ROOT, path))
    if data['status'] == 'subset':
        split = write_subset_split(data, _split_file(cfg),
                                   osp.join(out_dir, 'split_present_cases.json'))
        _set_split(cfg, split)
    if tiny:
        _shrink(cfg)
    check_config(cfg)
    return cfg


def _split_file(cfg) -> str:
    return cfg.get('split_file') or cfg.train_dataloader.dataset.get('split_file')


def _datasets(cfg) -> list:
    ds = cfg.train_dataloader.dataset
    return list(ds.datasets) if 'datasets' in ds else [ds]


def _set_split(cfg, split: str) -> None:
    with open(split) as f:
        content = json.load(f)
    for ds in _datasets(cfg) + [cfg.val_dataloader.dataset, cfg.test_dataloader.dataset]:
        ds.split_file = split
        if 'labeled_num' in ds:
            ds.labeled_num = len(content['labeled'])
        if 'num_val' in ds:
            ds.num_val = len(content['val'])


def _shrink(cfg) -> None:
    """Tiny networks, patches and windows (``--tiny``)."""
    patch = _TINY['patch']
    cfg.model.backbone.base_channels = _TINY['base_channels']
    cfg.model.test_cfg.update(patch_size=patch, stride=_TINY['stride'])
    for ds in _datasets(cfg):
        for t in ds.pipeline:
            if 'crop_size' in t:
                t.crop_size = patch
    if 'semi_train_cfg' in cfg.model:
        cfg.model.semi_train_cfg.schedule.rampup_iters = 10
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False


def _patch_and_context(cfg):
    patch, shift = None, (0, 0, 0)
    for ds in _datasets(cfg):
        for t in ds.pipeline:
            if t['type'] in ('RandomCrop3D', 'ContextCrop3D'):
                patch = tuple(t['crop_size'])
            if t['type'] == 'ContextCrop3D':
                shift = tuple(t['max_shift'])
    return patch, shift


# ---------------------------------------------------------------- batches
def batch_source(cfg, real: bool, count: int) -> Callable[[], dict]:
    """Callable giving a fresh copy of one of ``count`` prefetched batches."""
    if real:
        from mmengine.runner import Runner
        loader_cfg = copy.deepcopy(cfg.train_dataloader)
        loader_cfg.persistent_workers = False
        loader = iter(Runner.build_dataloader(loader_cfg, seed=0))
        batches = [next(loader) for _ in range(count)]
        del loader
    else:
        patch, shift = _patch_and_context(cfg)
        if 'datasets' in cfg.train_dataloader.dataset:
            sampler = cfg.train_dataloader.sampler
            n_lab, n_unl = sampler['labeled_per_batch'], sampler['unlabeled_per_batch']
        else:
            n_lab, n_unl = cfg.train_dataloader.batch_size, 0
        from fdpl.testing import demo_two_stream_batch
        batches = [demo_two_stream_batch(n_lab, n_unl, patch, shift) for _ in range(count)]
    state = dict(i=0)

    def next_batch() -> dict:
        state['i'] += 1
        return copy.deepcopy(batches[state['i'] % len(batches)])

    return next_batch


# ---------------------------------------------------------------- part 1
def _optim_wrapper(model, cfg, amp: bool):
    from mmengine.optim import build_optim_wrapper
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        optim_cfg.type = 'AmpOptimWrapper'
        optim_cfg.setdefault('loss_scale', 'dynamic')
        if not torch.cuda.is_available():
            # mmengine refuses AmpOptimWrapper without an accelerator; on a CPU
            # (--tiny) it then autocasts to bfloat16, which exercises the path.
            import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module
            amp_module.is_cuda_available = lambda: True
    return build_optim_wrapper(model, optim_cfg)


def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_training(cfg, kind: str, amp: bool, device: str, real: bool, warmup: int, iters: int,
                  seconds: float) -> dict:
    """Seconds per iteration (median) and peak memory of one training step."""
    from fdpl.registry import HOOKS, MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device)
    model.train()
    optim = _optim_wrapper(model, cfg, amp)
    hook = None
    if kind == 'fdpl':
        hook_cfg = [h for h in cfg.custom_hooks if h['type'] == 'PseudoLabelHook'][0]
        hook = HOOKS.build(hook_cfg)
        hook.configure(model)
        hook.generator = torch.Generator().manual_seed(0)
        model.unsup_weight = 1.0
    next_batch = batch_source(cfg, real, count=min(3, warmup + iters))
    if device == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    times, pseudo = [], []
    start = time.perf_counter()
    for it in range(warmup + iters):
        batch = next_batch()
        _sync(device)
        t0 = time.perf_counter()
        if hook is not None:
            model.train()
            hook.make_pseudo_labels(model, batch)
            _sync(device)
        t1 = time.perf_counter()
        model.train_step(batch, optim)
        _sync(device)
        t2 = time.perf_counter()
        if it >= warmup:
            times.append(t2 - t0)
            pseudo.append(t1 - t0)
            if time.perf_counter() - start > seconds:
                break
    s_it = statistics.median(times)
    row = dict(model=kind, amp=amp, batches='real' if real else 'random',
               seconds_per_iter=s_it, iters_per_second=1.0 / s_it, timed_iters=len(times))
    if hook is not None:
        row['pseudo_label_seconds'] = statistics.median(pseudo)
    if device == 'cuda':
        row['peak_memory_gib'] = torch.cuda.max_memory_allocated() / 2**30
        row['peak_reserved_gib'] = torch.cuda.max_memory_reserved() / 2**30
    del model, optim
    if device == 'cuda':
        torch.cuda.empty_cache()
    return row


# ---------------------------------------------------------------- part 2
def case_volume(cfg, data: dict, tiny: bool) -> tuple:
    """The first test case after the test pipeline, or a random volume."""
    if tiny:
        return torch.randn(1, 1, *_TINY['volume']), 'random ' + 'x'.join(
            map(str, _TINY['volume']))
    if data['present']['test']:
        from mmengine.dataset import pseudo_collate

        from fdpl.registry import DATASETS
        ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
        dataset = DATASETS.build(ds_cfg)
        packed = pseudo_collate([dataset[0]])
        vol = torch.stack(packed['inputs']).float()
        return vol, f"case {packed['data_samples'][0].metainfo.get('case_id')}"
    return torch.randn(1, 1, *LA_CASE_SHAPE), 'random ' + 'x'.join(map(str, LA_CASE_SHAPE))


def time_sliding_window(cfg, device: str, tiny: bool, data: dict, repeats: int) -> List[dict]:
    """Seconds per case of the inference modes with the supervised V-Net."""
    from fdpl.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).eval()
    volume, source = case_volume(cfg, data, tiny)
    volume = volume.to(device)
    modes = [
        ('classic', dict(mode='classic', sw_batch_size=1, fast_predictor=False), False),
        ('fast (gaussian 0.5)', dict(mode='gaussian', stride=None, overlap=0.5), False),
        ('whole', dict(mode='whole'), False),
        ('fast (gaussian 0.5), fp16 autocast', dict(mode='gaussian', stride=None, overlap=0.5),
         True),
        ('whole, fp16 autocast', dict(mode='whole'), True),
    ]
    base = dict(model.test_cfg)
    rows = []
    for name, options, autocast in modes:
        if autocast and device != 'cuda':
            continue
        model.test_cfg = {**base, **options}
        times = []
        for r in range(repeats + 1):  # the first run warms up
            _sync(device)
            t0 = time.perf_counter()
            ctx = torch.autocast('cuda', dtype=torch.float16) if autocast else nullcontext()
            with torch.no_grad(), ctx:
                probs = model.slide_probs(volume)
            _sync(device)
            if r:
                times.append(time.perf_counter() - t0)
        rows.append(dict(mode=name, volume=source, shape=list(volume.shape[2:]),
                         seconds_per_case=statistics.median(times),
                         foreground_voxels=int(probs.argmax(1).sum())))
    model.test_cfg = base
    del model
    if device == 'cuda':
        torch.cuda.empty_cache()
    return rows


# ---------------------------------------------------------------- part 3
def train_run(cfg, out_dir: str, amp: bool, max_iters: int, timeout: float, full_iters: int,
              threads: Optional[int] = None) -> dict:
    """``tools/train.py`` for ``max_iters`` iterations; times from its log."""
    cfg = copy.deepcopy(cfg)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.logger.interval = max(1, min(10, max_iters // 4))
    cfg.default_hooks.checkpoint.update(interval=max_iters + 1, save_last=False, save_best=None)
    cfg.train_dataloader.persistent_workers = False
    config_path = osp.join(out_dir, 'train_config.py')
    cfg.dump(config_path)
    work_dir = osp.join(out_dir, 'train')
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config_path, '--work-dir',
           work_dir] + (['--amp'] if amp else [])
    print('$ ' + ' '.join(cmd), flush=True)
    t0 = time.time()
    log_path = osp.join(out_dir, 'train_stdout.log')
    with open(log_path, 'w') as log:
        env = dict(os.environ, **({'OMP_NUM_THREADS': str(threads)} if threads else {}))
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            rc = proc.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            rc = 'timeout'
    wall = time.time() - t0
    row = dict(command=' '.join(cmd), amp=amp, max_iters=max_iters, returncode=rc,
               wall_seconds=wall, log=log_path)
    row.update(parse_train_log(log_path))
    s_it = row.get('seconds_per_iter_wall') or row.get('seconds_per_iter_logged')
    if s_it:
        row['full_schedule_iters'] = full_iters
        row['full_schedule_train_hours'] = full_iters * s_it / 3600
    if rc not in (0, 'timeout'):
        with open(log_path) as f:
            row['error_tail'] = f.read()[-2000:]
    return row


_LOG_LINE = re.compile(r'^(?:\d{4}/)?(\d\d/\d\d \d\d:\d\d:\d\d) .*Iter\(train\) \[\s*(\d+)/\d+\]'
                       r'.*?(?<![\w])time: ([0-9.]+)(?:.*?memory: (\d+))?')


def parse_train_log(path: str) -> dict:
    """Per-iteration time of a training log: from the timestamps of the
    logged iterations (everything included) and mmengine's ``time`` field
    (its moving average at the last logged iteration)."""
    points = []
    with open(path) as f:
        for line in f:
            m = _LOG_LINE.search(line)
            if m:
                stamp = datetime.strptime('2000/' + m.group(1), '%Y/%m/%d %H:%M:%S')
                points.append((stamp.timestamp(), int(m.group(2)), float(m.group(3)),
                               int(m.group(4)) if m.group(4) else None))
    out: Dict[str, object] = dict(logged_points=len(points))
    if not points:
        return out
    out['iters_done'] = points[-1][1]
    out['seconds_per_iter_logged'] = points[-1][2]
    memory = [p[3] for p in points if p[3] is not None]
    if memory:
        out['peak_memory_mib_logged'] = max(memory)
    if len(points) >= 3:
        (t_a, i_a), (t_b, i_b) = points[1][:2], points[-1][:2]
        if i_b > i_a and t_b > t_a:
            out['seconds_per_iter_wall'] = (t_b - t_a) / (i_b - i_a)
    return out


# ---------------------------------------------------------------- report
def write_summary(out_dir: str, report: dict) -> None:
    with open(osp.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(report, f, indent=2, default=str)
    with open(osp.join(out_dir, 'summary.md'), 'w') as f:
        f.write(markdown(report))


def markdown(report: dict) -> str:
    env = report['env']
    lines = [f"# fdpl GPU benchmark{' (tiny: the figures mean nothing)' if env['tiny'] else ''}",
             '', f"Device: {env['device']}; torch {env['torch']}, CUDA {env['cuda']}; "
             f"budget {env['budget_seconds']:.0f} s, "
             f"used {report.get('elapsed_seconds', 0):.0f} s.",
             f"Data: {report['data']['status']} ({report['data']['counts']}).", '']
    if report.get('speed'):
        lines += ['## Training speed (full-resolution LA configs)', '',
                  '| model | AMP | batches | s / iter | iter / s | peak GPU memory (GiB) |',
                  '|---|---|---|---|---|---|']
        for r in report['speed']:
            if 'error' in r:
                lines.append(f"| {r['model']} | {r['amp']} | | {r['error']} | | |")
                continue
            mem = f"{r['peak_memory_gib']:.2f}" if 'peak_memory_gib' in r else 'n/a'
            lines.append(f"| {r['model']} | {'yes' if r['amp'] else 'no'} | {r['batches']} | "
                         f"{r['seconds_per_iter']:.3f} | {r['iters_per_second']:.2f} | {mem} |")
        lines.append('')
    if report.get('sliding_window'):
        lines += ['## Inference per case (full-size V-Net)', '', '| mode | volume | s / case |',
                  '|---|---|---|']
        for r in report['sliding_window']:
            lines.append(f"| {r['mode']} | {r['volume']} {tuple(r['shape'])} | "
                         f"{r['seconds_per_case']:.3f} |")
        lines.append('')
    train = report.get('train')
    if train:
        lines += ['## FDPL training run', '']
        if 'skipped' in train:
            lines.append(f"Skipped: {train['skipped']}")
        else:
            lines.append(f"`{train['command']}`: {train.get('iters_done', 0)} of "
                         f"{train['max_iters']} iterations in {train['wall_seconds']:.0f} s "
                         f"(return code {train['returncode']}).")
            if 'full_schedule_train_hours' in train:
                s_it = train.get('seconds_per_iter_wall') or train['seconds_per_iter_logged']
                lines.append(
                    f"Time per iteration {s_it:.3f} s "
                    f"-> the full schedule ({train['full_schedule_iters']} iterations) takes "
                    f"**{train['full_schedule_train_hours']:.2f} h** of training"
                    + (f" + about {train['validation_hours']:.2f} h of validation "
                       f"({train['validation_note']})" if 'validation_hours' in train else '')
                    + '.')
        lines.append('')
    for note in report.get('notes', []):
        lines.append(f'* {note}')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', nargs='?', default=os.environ.get('OUT'))
    parser.add_argument('--budget', type=float, default=450.0,
                        help='seconds for the four parts (the shell script adds ~20 s)')
    parser.add_argument('--tiny', action='store_true',
                        default=os.environ.get('FDPL_BENCH_TINY', '0') not in ('', '0'))
    parser.add_argument('--data-root', default=os.environ.get('FDPL_DATA_ROOT', 'data'))
    parser.add_argument('--skip-train', action='store_true', help='parts 1 and 2 only')
    parser.add_argument('--make-subset', metavar='DST', default=None)
    parser.add_argument('--num-unlabeled', type=int, default=15)
    args = parser.parse_args()
    split_file = osp.join(ROOT, 'configs/_base_/splits/la/la_labeled8_canonical.json')
    if args.make_subset:
        make_subset(args.data_root, args.make_subset, split_file, args.num_unlabeled)
        return
    if not args.out_dir:
        parser.error('give an output folder (argument or $OUT)')
    t_start = time.time()
    deadline = t_start + args.budget
    os.makedirs(args.out_dir, exist_ok=True)
    os.environ['FDPL_DATA_ROOT'] = args.data_root  # read by the configs
    sys.path.insert(0, ROOT)
    import fdpl  # noqa: F401  (registers fdpl's modules)
    from mmengine.registry import init_default_scope
    init_default_scope('fdpl')

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    tiny = args.tiny
    if tiny:
        torch.set_num_threads(_TINY['threads'])
    data = data_status(args.data_root, split_file)
    real = data['status'] != 'absent'
    report = dict(
        env=dict(device=torch.cuda.get_device_name() if device == 'cuda' else
                 f'CPU ({platform.processor() or platform.machine()}, '
                 f'{torch.get_num_threads()} threads)',
                 torch=torch.__version__, cuda=torch.version.cuda, tiny=tiny,
                 budget_seconds=args.budget, python=platform.python_version()),
        data=dict(status=data['status'], root=data['la_root'], counts=data['counts']),
        notes=[])
    if data['status'] == 'absent':
        report['notes'].append(
            f"No LA data under {data['la_root']}: training speed uses random batches, the "
            'sliding window a random volume, and the training run is skipped. Copy data/LA '
            'there, or make a subset (python tools/benchmark_gpu.py --make-subset '
            'data/gpu_subset) and run with FDPL_DATA_ROOT=data/gpu_subset.')
    print(f"device {report['env']['device']}, torch {torch.__version__} "
          f"(CUDA {torch.version.cuda}); data {data['status']} {data['counts']}", flush=True)
    sup_cfg = load_config(SUP_CONFIG, tiny, data, args.out_dir)
    fdpl_cfg = load_config(FDPL_CONFIG, tiny, data, args.out_dir)
    torch.backends.cudnn.benchmark = bool(fdpl_cfg.env_cfg.get('cudnn_benchmark', False))
    warmup, iters = (_TINY['warmup'], _TINY['iters']) if tiny else (2, 10)

    # 1. training speed: about 30 % of the budget in all
    report['speed'] = []
    per_variant = 0.3 * args.budget / 4
    for kind, cfg in (('supervised', sup_cfg), ('fdpl', fdpl_cfg)):
        for amp in (False, True):
            try:
                row = time_training(cfg, kind, amp, device, real, warmup, iters, per_variant)
            except torch.cuda.OutOfMemoryError as e:  # report and go on
                row = dict(model=kind, amp=amp, error=f'out of memory: {str(e)[:200]}')
                torch.cuda.empty_cache()
            report['speed'].append(row)
            print(json.dumps(row), flush=True)
            write_summary(args.out_dir, report)
    if device != 'cuda':
        report['notes'].append('No GPU: AMP rows ran with bfloat16 autocast on the CPU.')

    # 2. sliding window
    report['sliding_window'] = time_sliding_window(sup_cfg, device, tiny, data,
                                                   repeats=1 if tiny else 2)
    for row in report['sliding_window']:
        print(json.dumps(row), flush=True)
    write_summary(args.out_dir, report)

    # 3. FDPL training run for the rest of the budget
    fdpl_rows = {r['amp']: r for r in report['speed'] if r['model'] == 'fdpl' and 'error' not in r}
    use_amp = device == 'cuda' and True in fdpl_rows and False in fdpl_rows and \
        fdpl_rows[True]['seconds_per_iter'] < fdpl_rows[False]['seconds_per_iter']
    full_iters = int(fdpl_cfg.train_cfg.max_iters)
    if args.skip_train:
        report['train'] = dict(skipped='--skip-train')
    elif not real:
        report['train'] = dict(skipped=f"no LA data under {data['la_root']}")
    elif not fdpl_rows:
        report['train'] = dict(skipped='FDPL did not run in part 1')
    else:
        startup = 10.0 if tiny else 45.0  # building the Runner, data workers, cuDNN warm-up
        remaining = deadline - time.time() - 15.0
        s_it = fdpl_rows[use_amp]['seconds_per_iter']
        max_iters = _TINY['train_iters'] if tiny else int(0.85 * (remaining - startup) / s_it)
        if max_iters < 4 and not tiny:
            report['train'] = dict(skipped=f'only {remaining:.0f} s of the budget left')
        else:
            report['train'] = train_run(fdpl_cfg, args.out_dir, use_amp, max_iters,
                                        timeout=300.0 if tiny else deadline - time.time() - 5,
                                        full_iters=full_iters,
                                        threads=_TINY['threads'] if tiny else None)
            classic = [r for r in report['sliding_window'] if r['mode'] == 'classic']
            interval = fdpl_cfg.train_cfg.get('val_interval')
            with open(split_file) as f:
                n_val = len(json.load(f)['val'])  # of the real split, not the subset
            if classic and interval:
                runs = full_iters // interval
                report['train']['validation_hours'] = \
                    runs * n_val * classic[0]['seconds_per_case'] / 3600
                report['train']['validation_note'] = (
                    f'{runs} validations x {n_val} cases x the classic sliding window of part 2')
    report['elapsed_seconds'] = time.time() - t_start
    write_summary(args.out_dir, report)
    print(f'wrote {osp.join(args.out_dir, "summary.json")} and summary.md', flush=True)


if __name__ == '__main__':
    main()
