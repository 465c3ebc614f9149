"""The README's main job: does unlabeled data help on the embedded synthetic data?

Trains and tests three runs on the same synthetic cases, iterations, input
noise and evaluation:

* supervised-only: one V-Net on the labeled cases
  (``configs/supervised/vnet_synthetic.py``);
* FDPL: two V-Nets on the same labeled cases plus the unlabeled pool
  (``configs/fdpl/vnet_synthetic.py``, scored with SN1);
* full supervision: one V-Net with every training case labeled but the
  validation ones (``configs/supervised/vnet_synthetic_full.py``), the
  ceiling.

Each run trains with ``tools/train.py`` and is tested on the last
checkpoint with ``tools/test.py`` on the held-out synthetic test cases. The
terminal shows one progress line per run (iterations, ETA, loss, validation
Dice) and the final table, with the share of the supervised-to-full gap that
FDPL closes, ``100 * (FDPL - sup) / (full - sup)``. Everything else
(mmengine's logs, hook tables, every scalar) goes to ``train.log`` /
``test.log`` and the usual mmengine files in each run's work dir.
``comparison.json`` and ``comparison.md`` in ``--work-dir`` hold the table
and all metrics.

Runs go ``--jobs`` at a time (default: 2 when the machine has at least 2
cores), each with ``cores // jobs`` threads, longest first.

Usage: ``python tools/demo.py [--work-dir work_dirs/demo] [--seeds 0 1 2]
[--iters N] [--jobs J]``
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
#: (key, row name, config); FDPL first: it is the longest run
RUNS = [('fdpl', 'FDPL (SN1)', 'configs/fdpl/vnet_synthetic.py'),
        ('sup', 'supervised-only', 'configs/supervised/vnet_synthetic.py'),
        ('full', 'full supervision', 'configs/supervised/vnet_synthetic_full.py')]
KEYS = ('dice', 'jaccard', 'hd95', 'asd')
_LOCK = threading.Lock()


def _fmt_time(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    return f'{seconds // 60}:{seconds % 60:02d}'


def _mean_std(values: List[float]) -> tuple:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, (sum((v - mean)**2 for v in values) / (len(values) - 1))**0.5


class _Status:
    """The terminal: permanent lines plus, on a TTY, one transient status line."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.active: Dict[str, str] = {}

    def _redraw(self) -> None:
        if not self.tty:
            return
        width = shutil.get_terminal_size((120, 20)).columns - 1
        line = ' | '.join(self.active.values())
        sys.stdout.write('\r\033[K' + line[:width])
        sys.stdout.flush()

    def say(self, msg: str) -> None:
        with _LOCK:
            if self.tty:
                sys.stdout.write('\r\033[K')
            print(msg, flush=True)
            self._redraw()

    def update(self, key: str, msg: Optional[str]) -> None:
        with _LOCK:
            if msg is None:
                self.active.pop(key, None)
            else:
                self.active[key] = msg
            self._redraw()


def _scalar_files(work_dir: str) -> List[str]:
    return sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))


def _read_scalars(work_dir: str, skip: Sequence[str] = ()) -> List[dict]:
    """Records of the newest ``<work_dir>/<timestamp>/vis_data/scalars.json`` not in ``skip``
    (the files of earlier runs in the same work dir)."""
    files = [f for f in _scalar_files(work_dir) if f not in skip]
    if not files:
        return []
    out = []
    with open(files[-1], encoding='utf-8') as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:  # a line being written
                break
    return out


def _train(cmd: List[str], log: str, env: dict, work_dir: str, tag: str, max_iters: int,
           status: _Status) -> Tuple[float, float]:
    """Run training with its output in ``log`` and report progress.

    Returns:
        tuple[float, float]: Wall seconds and CPU seconds (user + system, of the
        training process and its data-loading workers).
    """
    t0 = time.time()
    seen = 0
    it, loss, spi = 0, float('nan'), None
    earlier = _scalar_files(work_dir)
    with open(log, 'w', encoding='utf-8') as f:
        f.write('$ ' + ' '.join(cmd) + '\n')
        f.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        cpu = 0.0
        while True:
            pid, wstatus, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(wstatus)
                cpu = usage.ru_utime + usage.ru_stime
            recs = _read_scalars(work_dir, earlier)
            for r in recs[seen:]:
                if 'loss' in r:
                    it, loss, spi = int(r['iter']), r['loss'], r.get('time', spi)
                elif 'dice' in r:
                    step = int(r.get('step', it))
                    eta = ('' if spi is None or step >= max_iters else
                           f'  eta {_fmt_time(spi * (max_iters - step))}')
                    status.say(f'{tag}  iter {step:>4d}/{max_iters}  '
                               f'loss {loss:.3f}  val Dice {r["dice"]:5.2f}{eta}')
            seen = len(recs)
            if it:
                eta = (time.time() - t0) / it * (max_iters - it) if spi is None else \
                    spi * (max_iters - it)
                status.update(tag, f'{tag} {it}/{max_iters} eta {_fmt_time(eta)} '
                                   f'loss {loss:.3f}')
            else:
                status.update(tag, f'{tag} starting')
            if pid:
                break
            time.sleep(2.0)
    status.update(tag, None)
    if proc.returncode != 0:
        raise RuntimeError(f'{tag}: training failed (exit {proc.returncode}); see {log}')
    return time.time() - t0, cpu


def run_one(key: str, name: str, cfg: str, seed: int, args: argparse.Namespace,
            threads: int, status: _Status) -> dict:
    """Train and test one run; return its row."""
    wd = osp.join(args.work_dir, f'{key}_seed{seed}')
    os.makedirs(wd, exist_ok=True)
    tag = f'[{name} s{seed}]'
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONUNBUFFERED='1')
    opts = ['--cfg-options', f'randomness.seed={seed}']
    max_iters = _max_iters(cfg)
    if args.iters:
        max_iters = args.iters
        opts += [f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={max_iters}',
                 f'default_hooks.checkpoint.interval={max_iters}',
                 f'param_scheduler.0.end={max_iters}']
    status.say(f'{tag}  training ({threads} thread{"s" if threads > 1 else ""}), '
               f'log: {osp.join(wd, "train.log")}')
    train_s, cpu_s = _train([sys.executable, 'tools/train.py', cfg, '--work-dir', wd] + opts,
                     osp.join(wd, 'train.log'), env, wd, tag, max_iters, status)
    with open(osp.join(wd, 'last_checkpoint'), encoding='utf-8') as f:
        ckpt = f.read().strip()
    test_cmd = [sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir', osp.join(wd, 'test')]
    if key == 'fdpl':
        test_cmd += ['--infer-with', 'net1']
    t1 = time.time()
    status.update(tag, f'{tag} testing')
    with open(osp.join(wd, 'test.log'), 'w', encoding='utf-8') as f:
        f.write('$ ' + ' '.join(test_cmd) + '\n')
        f.flush()
        proc = subprocess.Popen(test_cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, wstatus, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(wstatus)
    status.update(tag, None)
    if code != 0:
        raise RuntimeError(f'{tag}: testing failed (exit {code}); see {wd}/test.log')
    with open(osp.join(wd, 'test', 'metrics.json'), encoding='utf-8') as f:
        summary = json.load(f)['summary']
    spi = _iter_seconds(wd) or train_s / max_iters
    row = dict(run=key, name=name, seed=seed, config=cfg, iters=max_iters,
               train_seconds=round(train_s, 1), train_cpu_seconds=round(cpu_s, 1),
               s_per_iter=round(spi, 3),
               test_seconds=round(time.time() - t1, 1),
               test_cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1), threads=threads,
               **{k: summary[k] for k in summary
                  if k.split('_')[0] in KEYS or k.startswith('num_')})
    status.say(f'{tag}  done: {max_iters} iters in {_fmt_time(train_s)} '
               f'({row["s_per_iter"]:.2f} s/it), test Dice {row["dice"]["mean"]:.2f}')
    return row


def _max_iters(cfg: str) -> int:
    import logging

    from mmengine.config import Config
    logging.disable(logging.INFO)  # mmengine's note on FDPL_DATA_ROOT belongs to the runs
    try:
        return int(Config.fromfile(osp.join(ROOT, cfg)).train_cfg.max_iters)
    finally:
        logging.disable(logging.NOTSET)


def _iter_seconds(work_dir: str) -> Optional[float]:
    """Mean training time per iteration logged by mmengine (no start-up, no validation)."""
    times = [r['time'] for r in _read_scalars(work_dir) if 'time' in r and 'loss' in r]
    return sum(times) / len(times) if times else None


def _seeds_table(rows: List[dict], key: str) -> dict:
    return dict(rows=[dict(seed=r['seed'], dice=r['dice']['mean'])
                      for r in rows if r['run'] == key])


def format_table(rows: List[dict]) -> str:
    """Markdown: per seed, test Dice (mean +- std over cases) of each run and the gap
    closed by FDPL; with several seeds, a last row with the mean +- sample std over
    seeds and the gap closed by the means (per-seed gaps: mean +- std)."""
    from fdpl.evaluation import gap_closed_table
    by = {(r['run'], r['seed']): r for r in rows}
    order = [k for k in ('sup', 'fdpl', 'full') if any(r['run'] == k for r in rows)]
    names = {k: n for k, n, _ in RUNS}
    seeds = sorted({r['seed'] for r in rows})
    gaps: Dict[int, Optional[float]] = {}
    summary = None
    if len(order) == 3:
        table = gap_closed_table(_seeds_table(rows, 'sup'),
                                 {'fdpl': _seeds_table(rows, 'fdpl')},
                                 _seeds_table(rows, 'full'))
        gaps = {r['seed']: r['gap_closed'] for r in table['rows']}
        summary = table['summary'][0]
    lines = ['| seed | ' + ' | '.join(names[k] for k in order) + ' | gap closed |',
             '|---' * (len(order) + 2) + '|']

    def pct(v: Optional[float]) -> str:
        return '-' if v is None else f'{v:.0f} %'

    full_above = {s: by[('full', s)]['dice']['mean'] > by[('sup', s)]['dice']['mean']
                  for s in seeds if ('full', s) in by and ('sup', s) in by}
    gaps = {s: (g if full_above.get(s) else None) for s, g in gaps.items()}

    for s in seeds:
        cells = [f"{by[(k, s)]['dice']['mean']:.2f} ± {by[(k, s)]['dice']['std']:.2f}"
                 if (k, s) in by else '-' for k in order]
        lines.append(f'| {s} | ' + ' | '.join(cells) + f' | {pct(gaps.get(s))} |')
    if len(seeds) > 1:
        cells = ['{:.2f} ± {:.2f}'.format(*_mean_std(
            [by[(k, s)]['dice']['mean'] for s in seeds if (k, s) in by])) for k in order]
        gap = '-'
        if (summary is not None and summary['gap_closed'] is not None
                and summary['full'] > summary['sup']):
            per_seed = summary['gap_closed_seeds']
            gap = pct(summary['gap_closed'])
            if per_seed['mean'] is not None and per_seed['std'] is not None:
                gap += f" (seeds: {per_seed['mean']:.0f} ± {per_seed['std']:.0f})"
        lines.append(f'| mean ± std over {len(seeds)} seeds | ' + ' | '.join(cells) +
                     f' | {gap} |')
    return '\n'.join(lines)


def format_times(rows: List[dict]) -> str:
    """One line: per run, the mean over seeds of the training wall time, its CPU time
    (what the wall time would be with a core to itself) and seconds per iteration."""
    parts = []
    for k, name, _ in RUNS:
        sel = [r for r in rows if r['run'] == k]
        if sel:
            wall = sum(r['train_seconds'] for r in sel) / len(sel)
            cpu = sum(r['train_cpu_seconds'] for r in sel) / len(sel)
            spi = sum(r['s_per_iter'] for r in sel) / len(sel)
            parts.append(f'{name} {_fmt_time(wall)} ({_fmt_time(cpu)}, {spi:.2f})')
    return 'Training time per run, wall (CPU, s/it): ' + '; '.join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--iters', type=int, default=None,
                        help='override max_iters of all runs (validation once, at the end)')
    parser.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1),
                        help='runs at once (default: 2 when there are 2 cores or more)')
    parser.add_argument('--runs', nargs='+', choices=[k for k, _, _ in RUNS],
                        default=[k for k, _, _ in RUNS], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    status = _Status()
    todo = [(s, r) for s in args.seeds for r in RUNS if r[0] in args.runs]
    status.say(f'fdpl demo: {len(todo)} runs on the embedded synthetic data, {args.jobs} at a time')
    t0 = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, k, n, c, s, args, threads, status)
                   for s, (k, n, c) in todo]
        rows = [f.result() for f in futures]
    table = format_table(rows)
    times = format_times(rows)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'comparison.json'), 'w', encoding='utf-8') as f:
        json.dump(rows, f, indent=2)
    with open(osp.join(args.work_dir, 'comparison.md'), 'w', encoding='utf-8') as f:
        f.write(table + '\n\n' + times + '\n')
    cpu = sum(r['train_cpu_seconds'] + r['test_cpu_seconds'] for r in rows)
    print(f'\nTest Dice % on the {rows[0].get("num_cases", "?")} synthetic test cases (mean ± std '
          'over cases), last checkpoint;\ngap closed = 100 (FDPL - sup) / (full - sup).')
    print(table)
    print(times)
    print(f'Total {_fmt_time(time.time() - t0)} wall ({_fmt_time(cpu)} CPU) with {args.jobs} '
          f'run(s) at a time; logs, checkpoints and comparison.md under {args.work_dir}/')


if __name__ == '__main__':
    main()
