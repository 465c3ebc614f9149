"""Collect the results of finished runs into one table (Markdown, CSV, JSON).

Two modes.

``--runs NAME=DIR ...``: for each training work dir it reads the newest
``vis_data/scalars.json`` and reports the last validation metrics, the
median seconds per training iteration, and the last logged pseudo-label
Dice against the hidden labels of the unlabeled crops (monitoring only)::

    python tools/summarize_runs.py --runs sup=work_dirs/a fdpl=work_dirs/b \
        --out work_dirs/summary

``--sup DIR --method [NAME=]DIR ... --full DIR``: the seeds tables of
``tools/run_seeds.py`` (a work dir, whose ``seeds_table[_<split>][_best].json``
is read, or the JSON file itself) of the supervised-only model, one or more
methods and full supervision, combined by
:func:`fdpl.evaluation.gap_closed_table` into per-seed and mean rows with
``gap closed % = 100 * (method - sup) / (full - sup)``::

    python tools/summarize_runs.py --sup work_dirs/sup_seeds \
        --method FDPL=work_dirs/fdpl_seeds --full work_dirs/full_seeds --split val \
        --out work_dirs/gap_closed

writes ``gap_closed.{json,csv,md}`` into ``--out`` (a folder) and prints
the Markdown.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import statistics
from typing import List, Optional

METRICS = ('dice', 'jaccard', 'hd95', 'asd')


def read_run(work_dir: str) -> dict:
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'No vis_data/scalars.json under {work_dir!r}')
    train, val = [], []
    with open(files[-1]) as f:
        for line in f:
            rec = json.loads(line)
            (val if 'dice' in rec else train).append(rec)
    if not val:
        raise ValueError(f'{work_dir!r} has no validation record yet')
    last_val = val[-1]
    row = dict(work_dir=work_dir, iters=train[-1].get('iter') if train else None)
    for k in METRICS:
        row[k] = last_val.get(k)
        row[f'{k}_std'] = last_val.get(f'{k}_std')
    row['num_empty_pred'] = last_val.get('num_empty_pred')
    times = [r['time'] for r in train if 'time' in r]
    row['sec_per_iter'] = statistics.median(times) if times else None
    for key in ('pl_fix1_dice_gt', 'pl_dyn1_dice_gt', 'pl_fix_dyn1_differ'):
        vals = [r[key] for r in train if key in r]
        row[key] = vals[-1] if vals else None
    return row


def seeds_table_path(path: str, split: str = 'test', checkpoint: str = 'last') -> str:
    """The seeds table of a run_seeds work dir for a split and checkpoint rule (or ``path``
    itself when it is a file)."""
    if osp.isfile(path):
        return path
    name = 'seeds_table' + ('' if split == 'test' else f'_{split}') + \
        ('_best' if checkpoint == 'best' else '')
    found = osp.join(path, name + '.json')
    if not osp.isfile(found):
        have = sorted(osp.basename(f) for f in glob.glob(osp.join(path, 'seeds_table*.json')))
        raise FileNotFoundError(f'{found} does not exist (tables there: {have or "none"}); '
                                'run tools/run_seeds.py with that --split/--checkpoint first')
    return found


def gap_closed_main(args: argparse.Namespace) -> None:
    from fdpl.evaluation import (format_gap_closed_markdown, gap_closed_table,
                                 write_gap_closed_table)

    def load(path: str) -> dict:
        with open(seeds_table_path(path, args.split, args.checkpoint), encoding='utf-8') as f:
            return json.load(f)

    methods = {}
    for item in args.method:
        name, sep, path = item.partition('=')
        if not sep:
            name, path = osp.basename(osp.normpath(item)), item
        if name in methods:
            raise SystemExit(f'--method name {name!r} given twice; use NAME=DIR')
        methods[name] = load(path)
    table = gap_closed_table(load(args.sup), methods, load(args.full), metric=args.metric,
                             predictor=args.predictor)
    table.update(split=args.split, checkpoint=args.checkpoint,
                 sources=dict(sup=args.sup, full=args.full, methods=list(args.method)))
    print(format_gap_closed_markdown(table), end='')
    if args.out:
        paths = write_gap_closed_table(args.out, table)
        print('written: ' + ', '.join(paths))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', help='NAME=WORK_DIR pairs (training work dirs)')
    parser.add_argument('--sup', help='supervised-only run_seeds work dir or seeds table')
    parser.add_argument('--method', nargs='+', action='extend',
                        help='[NAME=]run_seeds work dir or seeds table of a method (repeatable)')
    parser.add_argument('--full', help='full-supervision run_seeds work dir or seeds table')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='which seeds table of a work dir to read (default test)')
    parser.add_argument('--checkpoint', choices=['last', 'best'], default='last',
                        help='checkpoint rule of the seeds tables to read (default last)')
    parser.add_argument('--metric', choices=['dice', 'jaccard', 'hd95', 'asd'], default='dice')
    parser.add_argument('--predictor', choices=['net1', 'net2', 'mean'],
                        help="read this predictor's column of the method tables instead of "
                        'their headline')
    parser.add_argument('--out', default=None, help='--runs: prefix of the .md/.csv/.json '
                        'outputs; --sup/--method/--full: output folder')
    args = parser.parse_args(argv)
    gap_args = [args.sup, args.method, args.full]
    if args.runs and any(gap_args):
        parser.error('--runs cannot be combined with --sup/--method/--full')
    if any(gap_args):
        if not all(gap_args):
            parser.error('the gap-closed table needs --sup, --method and --full')
        return gap_closed_main(args)
    if not args.runs:
        parser.error('give --runs, or --sup, --method and --full')
    rows = []
    for item in args.runs:
        name, _, wd = item.partition('=')
        rows.append(dict(run=name, **read_run(wd)))

    def fmt(v, nd=2):
        return '-' if v is None else f'{v:.{nd}f}'

    lines = ['| run | Dice % | Jaccard % | 95HD | ASD | empty | s/iter | PL Dice fix / dyn |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        cells = [f"{fmt(r[k])} ± {fmt(r[k + '_std'])}" for k in METRICS]
        pl = f"{fmt(r['pl_fix1_dice_gt'], 3)} / {fmt(r['pl_dyn1_dice_gt'], 3)}"
        lines.append(f"| {r['run']} | " + ' | '.join(cells) +
                     f" | {r['num_empty_pred']} | {fmt(r['sec_per_iter'])} | {pl} |")
    table = '\n'.join(lines)
    print(table)
    if args.out:
        os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
        with open(args.out + '.md', 'w') as f:
            f.write(table + '\n')
        with open(args.out + '.json', 'w') as f:
            json.dump(rows, f, indent=2)
        with open(args.out + '.csv', 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == '__main__':
    main()
