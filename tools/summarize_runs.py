"""Collect the results of finished runs into one table (Markdown, CSV, JSON).

For each work dir (``--runs NAME=DIR ...``) it reads the newest
``vis_data/scalars.json`` and reports the last validation metrics, the
median seconds per training iteration, and the last logged pseudo-label
Dice against the hidden labels of the unlabeled crops (monitoring only).

Usage::

    python tools/summarize_runs.py --runs sup=work_dirs/a fdpl=work_dirs/b \
        --out work_dirs/summary
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import statistics

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', nargs='+', required=True, help='NAME=WORK_DIR pairs')
    parser.add_argument('--out', default=None, help='prefix of the .md/.csv/.json outputs')
    args = parser.parse_args()
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
