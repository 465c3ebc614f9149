"""Documented result rows and the comparison of a re-run with them.

``docs/results_rows.json`` lists the rows of ``docs/results.md`` that
``tools/reproduce.py`` can re-run (format ``fdpl-results-rows/1``)::

    {"format": "fdpl-results-rows/1",
     "rows": [{"id": "...", "description": "...", "config": "configs/....py",
               "seeds": [0, 1, 2], "split": "test", "cfg_options": {},
               "checkpoint": "last",                      # optional, run_seeds --checkpoint
               "env": {"OMP_NUM_THREADS": "1"},           # optional, set for run_seeds
               "std_ddof": 0,                             # optional, of the documented std
               "documented": {"dice": {"mean": .., "std": ..}, "jaccard": {..},
                              "hd95": {..}, "asd": {..}},
               "source": "docs/results.md#..."}]}

``documented`` holds the mean and the standard deviation over seeds of the
per-seed means, like the ``summary`` of ``tools/run_seeds.py``'s
``seeds_table.json``.

The rule (:func:`compare_to_documented`): a re-run reproduces a metric when
``|user mean - documented mean| <= documented std`` (std over seeds); the
looser ``<= 2 * documented std`` is reported next to it. The verdict of a
row is the one of its first metric (Dice).
"""
import json
import os.path as osp
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = [
    'ROWS_FORMAT', 'METRICS', 'load_results_rows', 'find_row', 'format_cfg_options',
    'run_seeds_command', 'compare_to_documented', 'verdict', 'format_comparison'
]

#: Value of the rows file's ``format`` key.
ROWS_FORMAT = 'fdpl-results-rows/1'
#: Metrics compared, in order; the first decides the verdict.
METRICS = ('dice', 'jaccard', 'hd95', 'asd')
_REQUIRED = ('id', 'description', 'config', 'seeds', 'split', 'documented', 'source')
_TOL = 1e-9


def load_results_rows(path: str) -> List[Dict[str, Any]]:
    """Read and check a rows file.

    Args:
        path (str): E.g. ``docs/results_rows.json``.

    Returns:
        list[dict]: The rows, ``cfg_options`` and ``env`` defaulting to {}.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Bad format, a row without a required key, seeds not a
            list of ints, a documented metric without numeric mean and std,
            or a repeated id (named with the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'results rows file {path!r} does not exist')
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get('format') != ROWS_FORMAT \
            or not isinstance(data.get('rows'), list):
        raise ValueError(f'{path}: expected {{"format": "{ROWS_FORMAT}", "rows": [...]}}')
    seen = set()
    rows = []
    for i, row in enumerate(data['rows']):
        where = f'{path}: row {i}'
        if not isinstance(row, dict):
            raise ValueError(f'{where} is not an object')
        missing = [k for k in _REQUIRED if k not in row]
        if missing:
            raise ValueError(f'{where} ({row.get("id")!r}) lacks {missing}')
        where = f'{path}: row {row["id"]!r}'
        if row['id'] in seen:
            raise ValueError(f'{where} appears twice')
        seen.add(row['id'])
        seeds = row['seeds']
        if not isinstance(seeds, list) or not seeds or \
                not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ValueError(f'{where}: seeds must be a non-empty list of ints, got {seeds!r}')
        documented = row['documented']
        if not isinstance(documented, dict) or not documented:
            raise ValueError(f'{where}: documented must map metrics to {{"mean", "std"}}')
        for name, value in documented.items():
            if not isinstance(value, dict) or not all(
                    isinstance(value.get(k), (int, float)) for k in ('mean', 'std')):
                raise ValueError(f'{where}: documented[{name!r}] must be {{"mean": number, '
                                 f'"std": number}}, got {value!r}')
        row = dict(row)
        row.setdefault('cfg_options', {})
        row.setdefault('env', {})
        rows.append(row)
    return rows


def find_row(rows: Sequence[Mapping[str, Any]], row_id: str,
             path: str = 'docs/results_rows.json') -> Dict[str, Any]:
    """The row with ``id == row_id``.

    Raises:
        KeyError: Unknown id; the message lists the known ones.
    """
    for row in rows:
        if row['id'] == row_id:
            return dict(row)
    raise KeyError(f'no row {row_id!r} in {path}; known rows: '
                   f'{", ".join(r["id"] for r in rows) or "none"}')


def _option_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value).replace(' ', '')
    return repr(value)


def format_cfg_options(options: Mapping[str, Any]) -> List[str]:
    """``--cfg-options`` arguments (``key=value``) of a dict, in its order.

    Args:
        options (dict): Dotted config key to value.

    Returns:
        list[str]: E.g. ``['model.noise=0.0', 'train_cfg.max_iters=300']``.
    """
    return [f'{key}={_option_value(value)}' for key, value in options.items()]


def run_seeds_command(row: Mapping[str, Any], work_dir: str, jobs: Optional[int] = None,
                      python: Optional[str] = None,
                      run_seeds: str = 'tools/run_seeds.py') -> List[str]:
    """The ``tools/run_seeds.py`` command that re-runs a row.

    Args:
        row (dict): A row of :func:`load_results_rows`.
        work_dir (str): Where the seeds train and test.
        jobs (int, optional): ``--jobs``.
        python (str, optional): Interpreter; defaults to ``sys.executable``.
        run_seeds (str): Path of the tool.

    Returns:
        list[str]: The argument vector.
    """
    cmd = [python or sys.executable, run_seeds, row['config'], '--seeds'] + \
        [str(s) for s in row['seeds']] + ['--split', row['split'], '--work-dir', work_dir]
    if row.get('checkpoint'):
        cmd += ['--checkpoint', str(row['checkpoint'])]
    if jobs is not None:
        cmd += ['--jobs', str(jobs)]
    if row.get('deterministic'):
        cmd.append('--deterministic')
    options = format_cfg_options(row.get('cfg_options') or {})
    if options:
        cmd += ['--cfg-options'] + options
    return cmd


def _mean(value: Any) -> Optional[float]:
    if isinstance(value, Mapping):
        value = value.get('mean')
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def compare_to_documented(documented: Mapping[str, Any], user: Mapping[str, Any],
                          metrics: Sequence[str] = METRICS) -> List[Dict[str, Any]]:
    """Compare a re-run's means over seeds with the documented ones, metric by metric.

    Args:
        documented (dict): Metric to ``{'mean', 'std'}`` (std over seeds).
        user (dict): The re-run's ``summary`` (metric to ``{'mean', 'std',
            'n'}``) or metric to mean.
        metrics (Sequence[str]): Metrics compared, those of ``documented``
            only.

    Returns:
        list[dict]: Per metric: ``metric``, ``documented_mean``,
        ``documented_std``, ``user_mean``, ``user_std``, ``user_n``,
        ``diff`` (user - documented), ``within_1std``
        (``|diff| <= documented std``), ``within_2std`` and ``status``
        ('inside', 'within 2 std', 'outside' or 'missing' when the re-run
        lacks the metric).
    """
    out = []
    for name in metrics:
        if name not in documented:
            continue
        doc_mean, doc_std = float(documented[name]['mean']), float(documented[name]['std'])
        entry = user.get(name)
        user_mean = _mean(entry)
        user_std = entry.get('std') if isinstance(entry, Mapping) else None
        user_n = entry.get('n') if isinstance(entry, Mapping) else None
        row: Dict[str, Any] = dict(metric=name, documented_mean=doc_mean, documented_std=doc_std,
                                   user_mean=user_mean, user_std=user_std, user_n=user_n,
                                   diff=None, within_1std=None, within_2std=None,
                                   status='missing')
        if user_mean is not None:
            diff = user_mean - doc_mean
            row.update(diff=diff, within_1std=abs(diff) <= doc_std + _TOL,
                       within_2std=abs(diff) <= 2 * doc_std + _TOL)
            row['status'] = 'inside' if row['within_1std'] else \
                'within 2 std' if row['within_2std'] else 'outside'
        out.append(row)
    return out


def verdict(comparison: Sequence[Mapping[str, Any]]) -> str:
    """Status of the first compared metric ('missing' if none)."""
    return comparison[0]['status'] if comparison else 'missing'


def _num(value: Any, signed: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return 'n/a'
    return f'{value:+.2f}' if signed else f'{value:.2f}'


def format_comparison(row: Mapping[str, Any], comparison: Sequence[Mapping[str, Any]],
                      notes: Sequence[str] = ()) -> str:
    """Terminal report: the re-run next to the documented mean +- std, and the rule.

    Args:
        row (dict): The documented row.
        comparison (list[dict]): From :func:`compare_to_documented`.
        notes (Sequence[str]): Extra lines (e.g. seeds that differ).

    Returns:
        str: Lines joined by newlines.
    """
    lines = [f'row {row["id"]}: {row["description"]}', f'source: {row["source"]}', '',
             'metric  | documented (mean +- std over seeds) | yours (mean +- std, n) | '
             'diff   | |diff| <= 1 std | <= 2 std',
             '--------+-------------------------------------+------------------------+'
             '--------+-----------------+---------']
    for c in comparison:
        doc = f'{_num(c["documented_mean"])} +- {_num(c["documented_std"])}'
        yours = 'n/a' if c['user_mean'] is None else \
            f'{_num(c["user_mean"])} +- {_num(c["user_std"])}, n={c["user_n"] or "?"}'

        def flag(v: Any) -> str:
            return 'n/a' if v is None else ('yes' if v else 'no')

        lines.append(f'{c["metric"]:<7} | {doc:<35} | {yours:<22} | '
                     f'{_num(c["diff"], True):<6} | {flag(c["within_1std"]):<15} | '
                     f'{flag(c["within_2std"])}')
    lines += ['', 'Rule: a metric is reproduced when |your mean - documented mean| <= documented '
              'std over seeds; within 2 std is reported as well.',
              f'Verdict ({comparison[0]["metric"] if comparison else "no metric"}): '
              f'{verdict(comparison).upper()}']
    lines += [f'note: {n}' for n in notes]
    return '\n'.join(lines)
