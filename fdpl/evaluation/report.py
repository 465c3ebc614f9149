"""Writers of evaluation results: JSON, CSV and a terminal table."""
import csv
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

_NAMES = ('dice', 'jaccard', 'hd95', 'asd')
_HEADERS = ('Dice (%)', 'Jaccard (%)', '95HD', 'ASD')
#: Table labels of the predictors of a two-network model.
PREDICTOR_LABELS = {'net1': 'SN1', 'net2': 'SN2', 'mean': 'mean'}


def write_metrics(work_dir: Union[str, Path], summary: Dict[str, Any],
                  per_case: Sequence[Dict[str, Any]],
                  per_predictor: Optional[Mapping[str, Mapping[str, Any]]] = None,
                  headline: Optional[str] = None) -> Tuple[str, str]:
    """Write ``metrics.json`` and ``per_case.csv`` into a folder.

    ``metrics.json`` holds ``{'summary': {...}, 'per_case': [...]}``; in the
    summary every metric (``dice``, ``jaccard``, ``hd95``, ``asd``, and the
    suffixed variants of :class:`~fdpl.evaluation.VolumeMetric`) maps to
    ``{'mean': ..., 'std': ...}``; counts stay plain numbers. NaN values are
    written as ``null`` (strict JSON). ``per_case.csv`` has one row per entry
    of ``per_case``, columns in first-seen order.

    With ``per_predictor`` (a model with several predictors, e.g. SN1, SN2
    and their mean), ``summary`` and ``per_case`` stay the headline's, and
    ``metrics.json`` adds ``headline`` (its name) and ``per_predictor``
    (``{name: summary}``, same form as ``summary``); ``per_case.csv`` then
    holds the rows of every predictor with a first column ``predictor``.

    Args:
        work_dir (str | Path): Output folder, created if missing.
        summary (dict): Either ``VolumeMetric.summary`` (values
            ``{'mean', 'std'}``) or the flat dict returned by
            ``VolumeMetric.compute_metrics`` (``dice``, ``dice_std``, ...;
            an evaluator prefix such as ``val/`` is dropped).
        per_case (Sequence[dict]): Per-case rows, e.g.
            ``VolumeMetric.per_case``.
        per_predictor (Mapping[str, Mapping], optional): name ->
            ``{'summary': ..., 'per_case': [...]}`` of each predictor.
        headline (str, optional): The name in ``per_predictor`` whose
            results are ``summary`` and ``per_case``.

    Returns:
        tuple[str, str]: Paths of the JSON and the CSV file.
    """
    out_dir = Path(work_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / 'metrics.json'
    csv_path = out_dir / 'per_case.csv'
    payload = dict(summary=_to_json(_structured(summary)), per_case=_to_json(list(per_case)))
    csv_rows: List[Dict[str, Any]] = list(per_case)
    if per_predictor:
        if headline is not None and headline not in per_predictor:
            raise KeyError(f'headline {headline!r} is not among the predictors '
                           f'{list(per_predictor)}')
        payload['headline'] = headline
        payload['per_predictor'] = {
            name: _to_json(_structured(res['summary'])) for name, res in per_predictor.items()}
        csv_rows = [dict(predictor=name, **row) for name, res in per_predictor.items()
                    for row in res.get('per_case', [])]
    write_json(json_path, payload)
    write_csv(csv_path, csv_rows)
    return str(json_path), str(csv_path)


def write_table_files(out_dir: Union[str, Path], name: str, table: Any,
                      csv_rows: Sequence[Mapping[str, Any]], markdown: str,
                      columns: Optional[Sequence[str]] = None) -> List[str]:
    """Write one table three ways: ``<name>.json``, ``<name>.csv`` and ``<name>.md``.

    Args:
        out_dir (str | Path): Folder, created if missing.
        name (str): File stem.
        table: The whole table, written as strict JSON.
        csv_rows (Sequence[Mapping]): The CSV lines (see :func:`write_csv`).
        markdown (str): The Markdown text.
        columns (Sequence[str], optional): The CSV header.

    Returns:
        list[str]: The three paths (JSON, CSV, Markdown).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f'{name}.json', out / f'{name}.csv', out / f'{name}.md']
    write_json(paths[0], table)
    write_csv(paths[1], csv_rows, columns)
    paths[2].write_text(markdown, encoding='utf-8')
    return [str(p) for p in paths]


def write_json(path: Union[str, Path], payload: Any) -> None:
    """Write strict JSON (NaN refused), indented, with a final newline."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(payload, f, indent=2, allow_nan=False)
        f.write('\n')


def write_csv(path: Union[str, Path], rows: Sequence[Mapping[str, Any]],
              columns: Optional[Sequence[str]] = None) -> None:
    """Write rows as CSV.

    Args:
        path (str | Path): The file.
        rows (Sequence[Mapping]): One mapping per line.
        columns (Sequence[str], optional): The header; keys outside it are
            left out. Defaults to every key of ``rows`` in first-seen order.
    """
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def format_table(summary: Dict[str, Any]) -> str:
    """Terminal table of Dice, Jaccard, 95HD and ASD as ``mean +- std``.

    One row per metric set: ``all`` for the plain keys, and the suffix
    (e.g. ``lcc``, ``cls2``, ``lcc_cls2``) for the others. Counts
    (``num_cases``, ``num_empty_pred``) follow the table when present.

    Args:
        summary (dict): Same forms as accepted by :func:`write_metrics`.

    Returns:
        str: The table, lines joined by newlines, no trailing newline.
    """
    structured = _structured(summary)
    rows = [('set', ) + _HEADERS]
    for suffix in _suffixes(structured):
        cells = [suffix.lstrip('_') or 'all']
        for name in _NAMES:
            cells.append(_cell(structured.get(name + suffix)))
        rows.append(tuple(cells))
    lines = _render(rows)
    counts = [f'{k}: {v}' for k, v in structured.items() if k.startswith('num_')]
    if counts:
        lines.append(', '.join(counts))
    return '\n'.join(lines)


def format_predictor_table(per_predictor: Mapping[str, Mapping[str, Any]],
                           headline: Optional[str] = None) -> str:
    """Terminal table with one row per predictor (SN1, SN2, mean) and metric set.

    The headline predictor's label carries a ``*``, explained below the
    table. Columns: predictor, set (only when the summaries hold several,
    e.g. ``all`` and ``lcc``), Dice, Jaccard, 95HD, ASD (``mean +- std``
    over cases) and the number of empty predictions.

    Args:
        per_predictor (Mapping[str, Mapping]): name -> ``{'summary': ...}``
            (any form accepted by :func:`write_metrics`).
        headline (str, optional): Name of the headline predictor.

    Returns:
        str: The table, lines joined by newlines, no trailing newline.
    """
    structured = {n: _structured(r['summary']) for n, r in per_predictor.items()}
    suffixes: List[str] = []
    for summ in structured.values():
        suffixes.extend(x for x in _suffixes(summ) if x not in suffixes)
    with_set = len(suffixes) > 1
    rows = [('predictor', ) + (('set', ) if with_set else ()) + _HEADERS + ('empty pred', )]
    for name, summ in structured.items():
        label = PREDICTOR_LABELS.get(name, name) + (' *' if name == headline else '')
        for suffix in suffixes:
            cells = [label] + ([suffix.lstrip('_') or 'all'] if with_set else [])
            cells += [_cell(summ.get(m + suffix)) for m in _NAMES]
            empty = summ.get('num_empty_pred' + suffix)
            cells.append('n/a' if empty is None else str(empty))
            rows.append(tuple(cells))
    lines = _render(rows)
    if headline is not None:
        lines.append(f'* headline: {headline} (model.infer_with unless --infer-with), the '
                     'summary of metrics.json')
    cases = {summ.get('num_cases') for summ in structured.values()} - {None}
    if len(cases) == 1:
        lines.append(f'num_cases: {cases.pop()}')
    return '\n'.join(lines)


def _suffixes(structured: Dict[str, Any]) -> List[str]:
    """Metric-set suffixes ('' for the plain keys, '_lcc', '_cls2'...), first seen first."""
    suffixes = []
    for key, value in structured.items():
        if key.startswith('dice') and isinstance(value, dict):
            suffixes.append(key[len('dice'):])
    for key, value in structured.items():
        for name in _NAMES[1:]:
            if key.startswith(name) and isinstance(value, dict) \
                    and key[len(name):] not in suffixes:
                suffixes.append(key[len(name):])
    return suffixes


def _render(rows: List[Tuple[str, ...]]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [' | '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    return lines


def _structured(summary: Dict[str, Any]) -> Dict[str, Any]:
    """Turn a flat ``{k, k_std}`` dict into ``{k: {'mean', 'std'}}``."""
    flat = {str(k).rsplit('/', 1)[-1]: v for k, v in summary.items()}
    out: Dict[str, Any] = {}
    for key, value in flat.items():
        if isinstance(value, dict):
            out[key] = dict(value)
        elif key.endswith('_std') and key[:-len('_std')] in flat:
            continue
        elif key + '_std' in flat:
            out[key] = dict(mean=value, std=flat[key + '_std'])
        else:
            out[key] = value
    return out


def _cell(value: Any) -> str:
    if not isinstance(value, dict):
        return 'n/a'
    mean, std = value.get('mean'), value.get('std')
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return 'n/a'
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f'{mean:.2f}'
    return f'{mean:.2f} +- {std:.2f}'


def _to_json(obj: Any) -> Any:
    """Plain JSON types: NaN/inf to None, numpy and torch scalars to Python."""
    if isinstance(obj, dict):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    if hasattr(obj, 'item') and callable(obj.item) and getattr(obj, 'ndim', 0) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
