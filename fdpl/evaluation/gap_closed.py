"""How much of the gap to full supervision a method closes, over seeds.

``gap closed % = 100 * (method - sup) / (full - sup)``, where ``sup`` is the
supervised-only model trained on the same labeled cases, ``full`` the same
network, schedule and evaluation with every non-validation training case
labeled, and ``method`` e.g. FDPL. 0 % = no better than the labeled cases
alone, 100 % = as good as labeling everything. The formula holds for
lower-is-better metrics too (95HD, ASD): moving toward ``full`` is positive.

Inputs are seeds tables (``seeds_table*.json`` of ``tools/run_seeds.py``,
or any ``{'rows': [{'seed': ..., '<metric>': ...}, ...]}``). Per-seed rows
pair the tables by seed; the mean row compares each table's mean over its
seeds (the gap of the means, not the mean of per-seed gaps, which a
per-seed ``full - sup`` near 0 would dominate; the mean +- std of the
per-seed gaps is kept beside it).
"""
import math
import statistics
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .report import write_table_files
from .seed_table import METRICS

_HEADERS = {'dice': 'Dice %', 'jaccard': 'Jaccard %', 'hd95': '95HD', 'asd': 'ASD'}
_LABELS = {'net1': 'SN1', 'net2': 'SN2', 'mean': 'mean of SN1 and SN2'}
COLUMNS = ('method', 'seed', 'sup', 'sup_std', 'value', 'value_std', 'full', 'full_std',
           'gap_closed', 'gap_closed_seeds_mean', 'gap_closed_seeds_std')


def gap_closed_percent(value: Optional[float], sup: Optional[float],
               full: Optional[float]) -> Optional[float]:
    """``100 * (value - sup) / (full - sup)``; None if an input is missing or ``full == sup``.

    Example:
        >>> gap_closed_percent(75.0, 70.0, 80.0)
        50.0
    """
    if value is None or sup is None or full is None:
        return None
    if any(isinstance(v, float) and not math.isfinite(v) for v in (value, sup, full)):
        return None
    if full == sup:
        return None
    return 100.0 * (float(value) - float(sup)) / (float(full) - float(sup))


def _by_seed(table: Mapping[str, Any], column: str, what: str) -> Dict[int, Optional[float]]:
    rows = table.get('rows')
    if rows is None:
        raise KeyError(f'{what}: the table has no "rows"; expected a seeds table '
                       '(seeds_table*.json of tools/run_seeds.py)')
    out: Dict[int, Optional[float]] = {}
    for r in rows:
        if column not in r:
            have = sorted(k for k in r if k.split('/')[-1] in METRICS)
            raise KeyError(f'{what}: seed {r.get("seed")} has no column {column!r} '
                           f'(columns: {have})')
        value = r[column]
        out[int(r['seed'])] = None if value is None else float(value)
    return out


def _is_number(value: Optional[float]) -> bool:
    return value is not None and math.isfinite(float(value))


def _seeds_with_values(values: Mapping[int, Optional[float]]) -> List[int]:
    return sorted(s for s, v in values.items() if _is_number(v))


def _mean_std(values: Sequence[Optional[float]]):
    kept = [float(v) for v in values if _is_number(v)]
    mean = statistics.fmean(kept) if kept else None
    std = statistics.stdev(kept) if len(kept) > 1 else None
    return mean, std


def gap_closed_table(sup: Mapping[str, Any], methods: Mapping[str, Mapping[str, Any]],
                     full: Mapping[str, Any], metric: str = 'dice',
                     predictor: Optional[str] = None) -> Dict[str, Any]:
    """Compare methods with supervised-only and full supervision, seed by seed.

    Args:
        sup (Mapping): Seeds table of the supervised-only model.
        methods (Mapping[str, Mapping]): Display name -> seeds table of each
            method (e.g. ``{'FDPL': ...}``), in table order.
        full (Mapping): Seeds table of the full-supervision model.
        metric (str): One of :data:`~fdpl.evaluation.seed_table.METRICS`.
            Defaults to ``'dice'``.
        predictor (str, optional): Read the methods' ``<predictor>/<metric>``
            column (``'net1'``, ``'net2'``, ``'mean'`` of a two-network
            model) instead of their headline ``<metric>``. ``sup`` and
            ``full`` always give their headline. Defaults to None.

    Returns:
        dict: ``metric``, ``predictor``, ``rows`` (one per method and seed
        of that method's table, in seed order: ``method``, ``seed``,
        ``sup``, ``value``, ``full`` (None where a table lacks the seed),
        ``gap_closed``) and ``summary`` (one per method, ``seed='mean'``:
        the mean +- sample std over each table's seeds of ``sup``,
        ``value`` and ``full``, ``gap_closed`` of those means and
        ``gap_closed_seeds``, the mean +- std of the per-seed gaps, as
        ``{'mean', 'std', 'n'}``; ``seeds``, the seeds each of the three
        means covers, as ``{'sup', 'value', 'full'}``, and ``paired``, True
        when they are the same seeds: otherwise the gap of the means compares
        different seeds, which :func:`format_gap_closed_markdown` says).

    Raises:
        ValueError: Unknown metric, or no method.
        KeyError: A table lacks ``rows`` or the column read.

    Example:
        >>> t = lambda *d: dict(rows=[dict(seed=s, dice=v) for s, v in enumerate(d)])
        >>> out = gap_closed_table(t(70., 60.), {'FDPL': t(75., 70.)}, t(80., 80.))
        >>> [r['gap_closed'] for r in out['rows']], out['summary'][0]['gap_closed']
        ([50.0, 50.0], 50.0)
    """
    if metric not in METRICS:
        raise ValueError(f'metric must be one of {METRICS}, got {metric!r}')
    if not methods:
        raise ValueError('gap_closed_table needs at least one method table')
    column = metric if predictor is None else f'{predictor}/{metric}'
    sup_v = _by_seed(sup, metric, 'supervised-only table')
    full_v = _by_seed(full, metric, 'full-supervision table')
    sup_mean, sup_std = _mean_std(list(sup_v.values()))
    full_mean, full_std = _mean_std(list(full_v.values()))
    sup_seeds, full_seeds = _seeds_with_values(sup_v), _seeds_with_values(full_v)
    rows: List[Dict[str, Any]] = []
    summary: List[Dict[str, Any]] = []
    for name, table in methods.items():
        values = _by_seed(table, column, f'method {name!r}')
        gaps = []
        for seed in sorted(values):
            g = gap_closed_percent(values[seed], sup_v.get(seed), full_v.get(seed))
            gaps.append(g)
            rows.append(dict(method=name, seed=seed, sup=sup_v.get(seed), value=values[seed],
                             full=full_v.get(seed), gap_closed=g))
        mean, std = _mean_std(list(values.values()))
        g_mean, g_std = _mean_std(gaps)
        seeds = dict(sup=sup_seeds, value=_seeds_with_values(values), full=full_seeds)
        summary.append(dict(
            method=name, seed='mean', sup=sup_mean, sup_std=sup_std, value=mean,
            value_std=std, full=full_mean, full_std=full_std,
            gap_closed=gap_closed_percent(mean, sup_mean, full_mean),
            gap_closed_seeds=dict(mean=g_mean, std=g_std,
                                  n=sum(g is not None for g in gaps)),
            seeds=seeds, paired=seeds['sup'] == seeds['value'] == seeds['full']))
    return dict(metric=metric, predictor=predictor, rows=rows, summary=summary)


def _num(value: Optional[float], std: Optional[float] = None) -> str:
    if value is None:
        return 'n/a'
    return f'{value:.2f}' if std is None else f'{value:.2f} ± {std:.2f}'


def format_gap_closed_markdown(table: Mapping[str, Any]) -> str:
    """Markdown: per-seed rows of each method, then its mean-over-seeds row.

    Args:
        table (Mapping): Output of :func:`gap_closed_table` (may carry a
            ``split``, used in the caption).

    Returns:
        str: The Markdown text, ending with a newline.
    """
    metric = table['metric']
    what = _HEADERS[metric]
    if table.get('predictor'):
        what += f" ({_LABELS.get(table['predictor'], table['predictor'])} of each method)"
    split = f", split `{table['split']}`" if table.get('split') else ''
    lines = [f'{what}{split}. gap closed % = 100 * (method - supervised-only) / '
             '(full supervision - supervised-only). Seed rows pair the tables by seed; the '
             'mean row uses the means over seeds (± sample std over seeds; the gap is that '
             'of the means).', '',
             '| method | seed | supervised-only | method | full supervision | gap closed % |',
             '|---|---|---|---|---|---|']
    for summ in table['summary']:
        name = summ['method']
        for r in table['rows']:
            if r['method'] == name:
                lines.append(f"| {name} | {r['seed']} | {_num(r['sup'])} | {_num(r['value'])} "
                             f"| {_num(r['full'])} | {_num(r['gap_closed'])} |")
        lines.append(f"| **{name}** | **mean** | {_num(summ['sup'], summ['sup_std'])} | "
                     f"{_num(summ['value'], summ['value_std'])} | "
                     f"{_num(summ['full'], summ['full_std'])} | "
                     f"**{_num(summ['gap_closed'])}** |")
    for summ in table['summary']:
        if summ.get('paired', True):
            continue
        seeds, per_seed = summ['seeds'], summ['gap_closed_seeds']
        lines.append('')
        paired = (f"the per-seed gaps pair them ({_num(per_seed['mean'], per_seed['std'])} "
                  f"over {per_seed['n']} seeds)" if per_seed['n'] else
                  'no seed is in all three tables')
        lines.append(f"Unpaired mean row of {summ['method']}: its seeds {seeds['value']}, "
                     f"supervised-only's {seeds['sup']}, full supervision's {seeds['full']}; "
                     f'{paired}.')
    return '\n'.join(lines) + '\n'


def write_gap_closed_table(out_dir: Union[str, Path], table: Mapping[str, Any],
                           name: str = 'gap_closed') -> List[str]:
    """Write ``<name>.json``, ``<name>.csv`` (seed rows, then mean rows) and ``<name>.md``.

    Returns:
        list[str]: The three paths (JSON, CSV, Markdown).
    """
    lines = list(table['rows']) + [
        dict(summ, gap_closed_seeds_mean=summ['gap_closed_seeds']['mean'],
             gap_closed_seeds_std=summ['gap_closed_seeds']['std'])
        for summ in table['summary']]
    return write_table_files(out_dir, name, table, lines, format_gap_closed_markdown(table),
                             COLUMNS)
