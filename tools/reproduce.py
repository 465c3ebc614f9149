"""Re-run a documented results row: ``python tools/reproduce.py ROW_ID [options]``.

Looks the row up in ``docs/results_rows.json``, runs
``tools/run_seeds.py CONFIG --seeds ... --split ... --work-dir DIR
[--cfg-options ...]`` with the row's settings, reads ``DIR/seeds_table.json``
and prints your mean over seeds next to the documented mean +- std, per
metric. Rule: reproduced when ``|your mean - documented mean| <=
documented std over seeds``; within 2 std is reported too. The comparison
is also written to ``DIR/reproduce.json``.

``--dry-run`` prints the command without running it and compares a
``seeds_table.json`` already in the work dir, if any. ``--list`` prints the
row ids.
"""
import argparse
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
from typing import Optional

from fdpl.provenance.reproduce import (compare_to_documented, find_row, format_comparison,
                                       load_results_rows, run_seeds_command, verdict)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Re-run a documented results row')
    parser.add_argument('row_id', nargs='?', help='id of a row of the rows file (see --list)')
    parser.add_argument('--rows', default=osp.join(ROOT, 'docs', 'results_rows.json'),
                        help='rows file')
    parser.add_argument('--work-dir', help='default: work_dirs/reproduce/<row id> in the '
                        'repository')
    parser.add_argument('--jobs', type=int, help='parallel seeds (passed to run_seeds.py)')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the command; compare an existing seeds_table.json only')
    parser.add_argument('--strict', action='store_true',
                        help='exit with status 1 unless the row is reproduced (1 std)')
    parser.add_argument('--list', action='store_true', help='list the row ids and exit')
    args = parser.parse_args(argv)
    if not args.list and not args.row_id:
        parser.error('ROW_ID is required (see --list)')
    if args.jobs is not None and args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    return args


def compare_table(row: dict, table_path: str) -> tuple:
    """Comparison of a ``seeds_table.json`` with the row, and notes on mismatches."""
    with open(table_path, encoding='utf-8') as f:
        table = json.load(f)
    if not isinstance(table, dict) or not isinstance(table.get('summary'), dict):
        raise ValueError(f'{table_path}: expected a seeds_table.json with a "summary" object')
    notes = []
    seeds = table.get('seeds')
    if seeds is not None and sorted(seeds) != sorted(row['seeds']):
        notes.append(f'the table has seeds {seeds}, the row documents {row["seeds"]}')
    if table.get('split') not in (None, row['split']):
        notes.append(f'the table is on split {table["split"]!r}, the row on {row["split"]!r}')
    config = table.get('config')
    if config and osp.normpath(osp.join(ROOT, config)) != \
            osp.normpath(osp.join(ROOT, row['config'])):
        notes.append(f'the table was made with config {config!r}, the row uses '
                     f'{row["config"]!r}')
    if row.get('std_ddof') is not None:
        notes.append(f'the documented std uses ddof={row["std_ddof"]}; the rule uses it as '
                     'documented (seeds_table.json reports its own std next to it)')
    return compare_to_documented(row['documented'], table['summary']), notes


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    rows = load_results_rows(args.rows)
    if args.list:
        for row in rows:
            print(f'{row["id"]}: {row["description"]}')
        return 0
    row = find_row(rows, args.row_id, args.rows)
    work_dir = osp.abspath(args.work_dir) if args.work_dir else \
        osp.join(ROOT, 'work_dirs', 'reproduce', row['id'])
    cmd = run_seeds_command(row, work_dir, jobs=args.jobs)
    env = dict(os.environ, **{str(k): str(v) for k, v in row['env'].items()})
    prefix = ' '.join(f'{k}={shlex.quote(str(v))}' for k, v in row['env'].items())
    print(('+ ' + prefix + ' ' if prefix else '+ ') + ' '.join(shlex.quote(c) for c in cmd),
          flush=True)
    if not args.dry_run:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    # run_seeds names its table after the evaluation setting (test split + last checkpoint:
    # seeds_table.json; otherwise seeds_table_<split>[_best].json)
    stem = 'seeds_table' + ('' if row['split'] == 'test' else f"_{row['split']}") + \
        ('_best' if row.get('checkpoint') == 'best' else '')
    table_path = osp.join(work_dir, stem + '.json')
    if not osp.isfile(table_path):
        if args.dry_run:
            print(f'dry run: {table_path} does not exist yet; nothing to compare')
            return 0
        raise FileNotFoundError(f'{table_path} was not written by tools/run_seeds.py')
    comparison, notes = compare_table(row, table_path)
    print(format_comparison(row, comparison, notes))
    out = osp.join(osp.dirname(table_path), f'reproduce{stem[len("seeds_table"):]}.json')
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(dict(row=row, seeds_table=table_path, comparison=comparison,
                       verdict=verdict(comparison), notes=notes,
                       rule='|user mean - documented mean| <= documented std over seeds'),
                  f, indent=2)
        f.write('\n')
    return 1 if args.strict and verdict(comparison) != 'inside' else 0


if __name__ == '__main__':
    sys.exit(main())
