"""Tables over training seeds: per-seed rows, mean +- std across seeds.

A *row* is the test summary of one seed (``metrics.json`` of
:func:`~fdpl.evaluation.report.write_metrics`) flattened to
``{'seed', 'dice', 'dice_std', ..., 'num_empty_pred', 'num_cases', ...}``,
where ``<metric>_std`` is the standard deviation over the test cases of that
seed. The summary takes, for each metric, the mean and the sample standard
deviation (``ddof=1``) of the per-seed means across seeds; with one seed the
std is None. Empty predictions are summed over seeds.

For a model with several predictors (FDPL: SN1, SN2 and their mean) the
plain columns are the headline's (``headline`` names it) and every
predictor adds ``<name>/<metric>`` and ``<name>/<metric>_std`` columns,
summarized across seeds the same way.
"""
import math
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from .report import write_table_files

#: Metrics reported by every seeds table, in column order.
METRICS = ('dice', 'jaccard', 'hd95', 'asd')
_HEADERS = {'dice': 'Dice %', 'jaccard': 'Jaccard %', 'hd95': '95HD', 'asd': 'ASD'}
_LABELS = {'net1': 'SN1', 'net2': 'SN2', 'mean': 'mean'}


def row_from_metrics(seed: int, metrics: Dict[str, Any], **extra: Any) -> Dict[str, Any]:
    """Flatten one seed's ``metrics.json`` content into a table row.

    Args:
        seed (int): The training seed.
        metrics (dict): ``{'summary': {...}, 'per_case': [...]}`` as written
            by :func:`~fdpl.evaluation.report.write_metrics`.
        **extra: Further columns (work dir, checkpoint, wall times...).

    Returns:
        dict: ``seed``, ``<metric>`` and ``<metric>_std`` for each of
        :data:`METRICS` (None when missing), ``num_empty_pred``,
        ``num_cases``; when ``metrics`` has ``per_predictor``, ``headline``
        and ``<name>/<metric>``, ``<name>/<metric>_std`` for every
        predictor; then ``extra``.

    Raises:
        KeyError: ``metrics`` has no ``summary``.
    """
    if 'summary' not in metrics:
        raise KeyError(f'seed {seed}: metrics have no "summary" entry; expected the '
                       'metrics.json written by tools/test.py')
    summary = metrics['summary']
    row: Dict[str, Any] = dict(seed=int(seed))
    for name in METRICS:
        value = summary.get(name)
        if isinstance(value, dict):
            row[name], row[f'{name}_std'] = value.get('mean'), value.get('std')
        else:
            row[name], row[f'{name}_std'] = value, None
    row['num_empty_pred'] = summary.get('num_empty_pred')
    row['num_cases'] = summary.get('num_cases')
    per_predictor = metrics.get('per_predictor') or {}
    if per_predictor:
        row['headline'] = metrics.get('headline')
    for pred, pred_summary in per_predictor.items():
        for name in METRICS:
            value = pred_summary.get(name)
            mean, std = (value.get('mean'), value.get('std')) if isinstance(value, dict) \
                else (value, None)
            row[f'{pred}/{name}'], row[f'{pred}/{name}_std'] = mean, std
    row.update(extra)
    return row


def predictor_names(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Predictors with ``<name>/<metric>`` columns in ``rows``, first seen first."""
    names: List[str] = []
    for r in rows:
        for key in r:
            pred, sep, metric = str(key).partition('/')
            if sep and metric in METRICS and pred not in names:
                names.append(pred)
    return names


def _columns(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Summarized columns: :data:`METRICS`, then ``<name>/<metric>`` per predictor."""
    return list(METRICS) + [f'{p}/{m}' for p in predictor_names(rows) for m in METRICS]


def summarize_seeds(rows: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Mean and sample std across seeds of each metric's per-seed mean.

    Args:
        rows (Sequence[dict]): Rows from :func:`row_from_metrics`.

    Returns:
        dict: ``{metric: {'mean', 'std', 'n'}}`` for each of :data:`METRICS`
        and each ``<name>/<metric>`` predictor column (seeds whose value is
        None are left out and ``n`` says how many counted; ``std`` is None
        below two values), plus ``num_empty_pred`` (sum over seeds) and
        ``num_seeds``.

    Example:
        >>> summarize_seeds([dict(seed=0, dice=80.0), dict(seed=1, dice=84.0)])['dice']
        {'mean': 82.0, 'std': 2.8284271247461903, 'n': 2}
    """
    out: Dict[str, Any] = {}
    for name in _columns(rows):
        values = [float(r[name]) for r in rows
                  if r.get(name) is not None and math.isfinite(float(r[name]))]
        mean = statistics.fmean(values) if values else None
        std = statistics.stdev(values) if len(values) > 1 else None
        out[name] = dict(mean=mean, std=std, n=len(values))
    empties = [r.get('num_empty_pred') for r in rows]
    out['num_empty_pred'] = sum(int(e) for e in empties if e is not None)
    out['num_seeds'] = len(rows)
    return out


def _fmt(mean: Optional[float], std: Optional[float]) -> str:
    if mean is None:
        return 'n/a'
    return f'{mean:.2f}' if std is None else f'{mean:.2f} +- {std:.2f}'


def format_seeds_markdown(table: Dict[str, Any]) -> str:
    """Markdown table: one row per seed (mean +- std over cases), then the mean row.

    Args:
        table (dict): ``{'rows': [...], 'summary': {...}}`` plus optional
            ``config`` and ``split`` used in the caption.

    Returns:
        str: The Markdown text, ending with a newline.
    """
    rows, summary = table['rows'], table['summary']
    preds = [p for p in predictor_names(rows) if f'{p}/dice' in summary]
    pred_cols = [f'{p}/dice' for p in preds]
    head = ['seed'] + [_HEADERS[m] for m in METRICS] + [
        f'Dice % {_LABELS.get(p, p)}' for p in preds] + ['empty predictions', 'cases']
    headlines = sorted({str(r['headline']) for r in rows if r.get('headline')})
    lines = []
    if table.get('config'):
        lines.append(f"Config `{table['config']}`, split `{table.get('split', '?')}`, "
                     f"{len(rows)} seed(s). Seed rows: mean +- std over cases; last row: "
                     'mean +- sample std over seeds of the per-seed means.')
        if headlines:
            lines.append(f"Headline columns (Dice to ASD): predictor {', '.join(headlines)}; "
                         'the Dice of each predictor follows.')
        lines.append('')
    lines.append('| ' + ' | '.join(head) + ' |')
    lines.append('|' + '---|' * len(head))
    for r in rows:
        cells = [str(r['seed'])] + [_fmt(r.get(m), r.get(f'{m}_std'))
                                    for m in list(METRICS) + pred_cols]
        cells += [str(r.get('num_empty_pred', 'n/a')), str(r.get('num_cases', 'n/a'))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    cells = ['mean over seeds'] + [
        _fmt(summary[m]['mean'], summary[m]['std']) for m in list(METRICS) + pred_cols]
    cells += [f"{summary['num_empty_pred']} in all", '']
    lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def write_seeds_table(out_dir: Union[str, Path], table: Dict[str, Any],
                      name: str = 'seeds_table') -> List[str]:
    """Write ``<name>.json``, ``<name>.csv`` and ``<name>.md``.

    Args:
        out_dir (str | Path): Folder, created if missing.
        table (dict): ``config``, ``seeds``, ``split``, ``rows``,
            ``summary`` and any further plain entries.
        name (str): File stem. Defaults to ``'seeds_table'``.

    Returns:
        list[str]: The three paths (JSON, CSV, Markdown).
    """
    columns: List[str] = []
    for row in table['rows']:
        columns.extend(k for k in row if k not in columns)
    summary = table['summary']
    lines = list(table['rows'])
    for stat in ('mean', 'std'):
        line = {c: '' for c in columns}
        line['seed'] = stat
        for m in _columns(table['rows']):
            if m in line and m in summary:
                line[m] = summary[m][stat]
        if stat == 'mean' and 'num_empty_pred' in line:
            line['num_empty_pred'] = summary['num_empty_pred']
        lines.append(line)
    return write_table_files(out_dir, name, table, lines, format_seeds_markdown(table), columns)
