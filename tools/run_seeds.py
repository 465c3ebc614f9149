"""Train and test one config over several seeds; write one table.

``python tools/run_seeds.py CONFIG --seeds 0 1 2 [options] [--cfg-options ...]``

Seed ``k`` trains into ``WORK_DIR/seed_k`` (``randomness.seed=k``) with
``tools/train.py`` and is tested with ``tools/test.py`` on the last
checkpoint (``iter_<max_iters>.pth``; ``--checkpoint best`` takes the best
validation checkpoint instead) into ``WORK_DIR/seed_k/test_<split>``. The
table (``seeds_table.{json,csv,md}`` in ``WORK_DIR``) has one row per seed
(mean +- std over cases) and the mean +- sample std over seeds, for Dice,
Jaccard, 95HD and ASD, and the number of empty predictions. For a model with
several predictors (FDPL) those are the headline's (``model.infer_with``),
followed by the Dice of SN1, SN2 and their mean (all four metrics of each in
the JSON and CSV, as ``<predictor>/<metric>``). ``tools/summarize_runs.py
--sup --method --full`` combines such tables into a gap-closed table.

Resumable: a seed whose test metrics exist is not run again; a seed whose
training stopped part-way resumes from its last checkpoint. The training
settings of the first call (config, cfg-options, deterministic) are stored in
``WORK_DIR/run_seeds.json``; a later call with other training settings on the
same folder is refused, so one table never mixes two settings. The
evaluation settings may change: ``--split val`` then ``--split test`` on the
same folder trains once and writes one table per split
(``seeds_table.*`` for the test split with the last checkpoint,
``seeds_table_<split>[_best].*`` otherwise).

``--jobs N`` runs N seeds at once, each with ``cpu_count // N`` threads
unless ``OMP_NUM_THREADS`` is set; logs go to ``seed_k/train.log`` and
``seed_k/test.log`` (and to the terminal when ``--jobs 1``).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
_PRINT_LOCK = threading.Lock()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train and test a config over several seeds')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--seeds', type=int, nargs='+', required=True, help='training seeds')
    parser.add_argument('--work-dir', help='output folder (default: work_dirs/<config>_seeds)')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help="evaluate on the config's test set or its validation "
                        '(development) set; default test')
    parser.add_argument('--checkpoint', choices=['last', 'best'], default='last',
                        help='checkpoint rule: the last iteration (default) or the best '
                        'validation Dice')
    parser.add_argument('--jobs', type=int, default=1, help='seeds run at once (default 1)')
    parser.add_argument('--deterministic', action='store_true',
                        help='pass --deterministic to tools/train.py')
    parser.add_argument('--amp', action='store_true',
                        help='pass --amp to tools/train.py (mixed precision)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='config overrides KEY=VALUE passed to train and test')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds has duplicates: {args.seeds}')
    for opt in args.cfg_options:
        if '=' not in opt:
            parser.error(f'--cfg-options entries must be KEY=VALUE, got {opt!r}')
        if opt.split('=', 1)[0] in ('randomness.seed', 'work_dir'):
            parser.error(f'--cfg-options {opt!r}: run_seeds sets the seed and the work dir '
                         'itself')
    return args


def _settings(args: argparse.Namespace) -> Dict:
    return dict(config=osp.relpath(osp.abspath(args.config), REPO),
                deterministic=bool(args.deterministic), cfg_options=list(args.cfg_options))


def _eval_name(args: argparse.Namespace) -> str:
    """Suffix naming an evaluation setting: '' for the test split and the last checkpoint."""
    name = '' if args.split == 'test' else f'_{args.split}'
    return name + ('_best' if args.checkpoint == 'best' else '')


def _check_settings(work_dir: str, settings: Dict) -> None:
    """Store the settings on first use; refuse a folder made with other ones."""
    path = osp.join(work_dir, 'run_seeds.json')
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            stored = json.load(f)
        diff = [k for k in settings if stored.get(k) != settings[k]]
        if diff:
            lines = '\n'.join(f'  {k}: stored {stored.get(k)!r}, now {settings[k]!r}'
                              for k in diff)
            raise SystemExit(f'{path} was written with other settings:\n{lines}\n'
                             'Use another --work-dir, or the same settings to resume.')
    else:
        os.makedirs(work_dir, exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(settings, f, indent=2)
            f.write('\n')


def _max_iters(config: str, cfg_options: List[str]) -> int:
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config)
    if cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o'] + cfg_options).o)
    max_iters = cfg.get('train_cfg', {}).get('max_iters')
    if not isinstance(max_iters, int):
        raise SystemExit(f'{config}: train_cfg.max_iters must be an int for run_seeds '
                         f'(iteration-based training), got {max_iters!r}')
    return max_iters


def _say(msg: str) -> None:
    with _PRINT_LOCK:
        print(msg, flush=True)


def _run_logged(cmd: List[str], log_path: str, echo: bool, env: Dict[str, str]) -> None:
    """Run ``cmd`` from the repo root, output to ``log_path`` (and the terminal)."""
    with open(log_path, 'a', encoding='utf-8') as log:
        log.write('$ ' + ' '.join(cmd) + '\n')
        log.flush()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if echo:
                sys.stdout.write(line)
        code = proc.wait()
    if code != 0:
        raise RuntimeError(f'command failed with exit code {code}: {" ".join(cmd)}\n'
                           f'see {log_path}')


def _find_checkpoint(seed_dir: str, rule: str, max_iters: int) -> str:
    if rule == 'last':
        path = osp.join(seed_dir, f'iter_{max_iters}.pth')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} is missing after training; the last checkpoint '
                                    '(checkpoint interval must divide max_iters, or the '
                                    'CheckpointHook saves the last one) is needed')
        return path
    best = sorted(f for f in os.listdir(seed_dir) if f.startswith('best_') and
                  f.endswith('.pth'))
    if not best:
        raise FileNotFoundError(f'no best_*.pth in {seed_dir}; the config must validate '
                                "and set default_hooks.checkpoint.save_best='dice'")
    return osp.join(seed_dir, best[-1])


def run_seed(seed: int, args: argparse.Namespace, work_dir: str, max_iters: int,
             env: Dict[str, str]) -> Dict:
    """Train (or resume) and test one seed; return its table row."""
    from fdpl.evaluation.seed_table import row_from_metrics
    seed_dir = osp.join(work_dir, f'seed_{seed}')
    test_dir = osp.join(seed_dir, f'test_{args.split}' + ('_best' if args.checkpoint == 'best'
                                                           else ''))
    metrics_path = osp.join(test_dir, 'metrics.json')
    timing_path = osp.join(seed_dir, 'run_seeds_timing.json')
    timing = {}
    if osp.isfile(timing_path):
        with open(timing_path, encoding='utf-8') as f:
            timing = json.load(f)
    echo = args.jobs == 1
    opts = ['--cfg-options', f'randomness.seed={seed}'] + list(args.cfg_options)
    if not osp.isfile(metrics_path):
        os.makedirs(seed_dir, exist_ok=True)
        if not osp.isfile(osp.join(seed_dir, f'iter_{max_iters}.pth')):
            cmd = [sys.executable, 'tools/train.py', args.config, '--work-dir', seed_dir] + opts
            if args.deterministic:
                cmd.append('--deterministic')
            if args.amp:
                cmd.append('--amp')
            if osp.isfile(osp.join(seed_dir, 'last_checkpoint')):
                cmd.append('--resume')
                _say(f'[seed {seed}] resuming training in {seed_dir}')
            else:
                _say(f'[seed {seed}] training in {seed_dir}')
            start = time.time()
            _run_logged(cmd, osp.join(seed_dir, 'train.log'), echo, env)
            timing['train_wall_s'] = timing.get('train_wall_s', 0.0) + time.time() - start
        ckpt = _find_checkpoint(seed_dir, args.checkpoint, max_iters)
        _say(f'[seed {seed}] testing {ckpt} on the {args.split} split')
        cmd = [sys.executable, 'tools/test.py', args.config, ckpt, '--work-dir', test_dir,
               '--split', args.split] + opts
        start = time.time()
        _run_logged(cmd, osp.join(seed_dir, f'test_{args.split}.log'), echo, env)
        timing[f'test{_eval_name(args)}_wall_s'] = time.time() - start
        timing[f'checkpoint{_eval_name(args)}'] = ckpt
        with open(timing_path, 'w', encoding='utf-8') as f:
            json.dump(timing, f, indent=2)
    else:
        _say(f'[seed {seed}] already tested: {metrics_path}')
    with open(metrics_path, encoding='utf-8') as f:
        metrics = json.load(f)
    return row_from_metrics(seed, metrics, work_dir=seed_dir,
                            checkpoint=timing.get(f'checkpoint{_eval_name(args)}'),
                            train_wall_s=timing.get('train_wall_s'),
                            test_wall_s=timing.get(f'test{_eval_name(args)}_wall_s'))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'Config file {args.config!r} does not exist')
    from fdpl.evaluation.seed_table import (format_seeds_markdown, summarize_seeds,
                                            write_seeds_table)
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', f'{name}_seeds')
    work_dir = osp.abspath(work_dir)
    settings = _settings(args)
    _check_settings(work_dir, settings)
    max_iters = _max_iters(args.config, args.cfg_options)
    env = dict(os.environ, PYTHONUNBUFFERED='1')  # logs reach seed_k/*.log line by line
    if 'OMP_NUM_THREADS' not in env:
        env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // args.jobs))
    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {s: pool.submit(run_seed, s, args, work_dir, max_iters, env)
                   for s in args.seeds}
        rows, failed = [], []
        for seed, fut in futures.items():
            try:
                rows.append(fut.result())
            except Exception as e:  # report every failed seed, then stop
                failed.append(f'seed {seed}: {e}')
    if failed:
        raise SystemExit('some seeds failed:\n' + '\n'.join(failed))
    rows.sort(key=lambda r: r['seed'])
    table = dict(settings, split=args.split, checkpoint=args.checkpoint,
                 seeds=sorted(args.seeds), rows=rows, summary=summarize_seeds(rows),
                 wall_s_this_call=round(time.time() - start, 1))
    paths = write_seeds_table(work_dir, table, name='seeds_table' + _eval_name(args))
    print(format_seeds_markdown(table))
    print('written: ' + ', '.join(paths))


if __name__ == '__main__':
    main()
