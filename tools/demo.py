"""The README's main job: FDPL versus supervised-only on the embedded synthetic data.

Trains both configs with the same labeled cases, iterations and evaluation,
tests the last checkpoint of each on the held-out synthetic test cases and
prints the two rows side by side; writes ``comparison.json`` and
``comparison.md`` into the work dir.

With ``--seeds 0 1 2`` both runs are repeated per seed and the table adds
the mean +- std over seeds.

Usage: ``python tools/demo.py [--work-dir work_dirs/demo] [--iters N] [--seeds 0 1 2]``
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
RUNS = [('supervised-only (1 V-Net)', 'configs/supervised/vnet_synthetic.py'),
        ('FDPL (SN1)', 'configs/fdpl/vnet_synthetic.py')]
KEYS = ('dice', 'jaccard', 'hd95', 'asd')


def _mean_std(values: list) -> tuple:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


def format_rows(rows: list, over_seeds: bool) -> str:
    """Markdown table: one row per run and seed (mean +- std over cases), plus
    mean +- std over seeds of the per-seed means when several seeds ran."""
    lines = ['| run | seed | Dice % | Jaccard % | 95HD (vox) | ASD (vox) | empty | train s |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        cells = [f"{r[k]['mean']:.2f} ± {r[k]['std']:.2f}" for k in KEYS]
        lines.append(f"| {r['run']} | {r['seed']} | " + ' | '.join(cells) +
                     f" | {r.get('num_empty_pred', 0)} | {r['train_seconds']} |")
    if over_seeds:
        for name in dict.fromkeys(r['run'] for r in rows):
            sel = [r for r in rows if r['run'] == name]
            cells = ['{:.2f} ± {:.2f}'.format(*_mean_std([r[k]['mean'] for r in sel]))
                     for k in KEYS]
            lines.append(f'| **{name}**, mean ± std over {len(sel)} seeds | all | ' +
                         ' | '.join(cells) + ' | | |')
    return '\n'.join(lines)


def run(cmd: list) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, default=None, help='override max_iters')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    args = parser.parse_args()
    rows = []
    for seed, (name, cfg) in [(s, r) for s in args.seeds for r in RUNS]:
        wd = osp.join(args.work_dir, osp.splitext(osp.basename(cfg))[0] + '_' +
                      osp.basename(osp.dirname(cfg)) + f'_seed{seed}')
        opts = ['--cfg-options', f'randomness.seed={seed}']
        if args.iters:
            opts += [f'train_cfg.max_iters={args.iters}',
                     f'train_cfg.val_interval={args.iters}',
                     f'default_hooks.checkpoint.interval={args.iters}',
                     f'param_scheduler.0.end={args.iters}']
        t0 = time.time()
        run([sys.executable, 'tools/train.py', cfg, '--work-dir', wd] + opts)
        train_s = time.time() - t0
        with open(osp.join(wd, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        run([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir', osp.join(wd, 'test'),
             '--show-dir', osp.join(wd, 'test', 'overlays')])
        with open(osp.join(wd, 'test', 'metrics.json')) as f:
            summary = json.load(f)['summary']
        rows.append(dict(run=name, seed=seed, config=cfg, train_seconds=round(train_s, 1),
                         **{k: summary[k] for k in summary
                            if k.split('_')[0] in KEYS or k.startswith('num_')}))
    table = format_rows(rows, len(args.seeds) > 1)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'comparison.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    with open(osp.join(args.work_dir, 'comparison.md'), 'w') as f:
        f.write(table + '\n')
    print('\nSynthetic test cases, last checkpoint, classic sliding window, no post-processing:')
    print(table)


if __name__ == '__main__':
    main()
