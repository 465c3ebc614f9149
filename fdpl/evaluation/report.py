"""Writers of evaluation results: JSON, CSV and a terminal table."""
import csv
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

_NAMES = ('dice', 'jaccard', 'hd95', 'asd')
_HEADERS = ('Dice (%)', 'Jaccard (%)', '95HD', 'ASD')


def write_metrics(work_dir: Union[str, Path], summary: Dict[str, Any],
                  per_case: Sequence[Dict[str, Any]]) -> Tuple[str, str]:
    """Write ``metrics.json`` and ``per_case.csv`` into a folder.

    ``metrics.json`` holds ``{'summary': {...}, 'per_case': [...]}``; in the
    summary every metric (``dice``, ``jaccard``, ``hd95``, ``asd``, and the
    suffixed variants of :class:`~fdpl.evaluation.VolumeMetric`) maps to
    ``{'mean': ..., 'std': ...}``; counts stay plain numbers. NaN values are
    written as ``null`` (strict JSON). ``per_case.csv`` has one row per entry
    of ``per_case``, columns in first-seen order.

    Args:
        work_dir (str | Path): Output folder, created if missing.
        summary (dict): Either ``VolumeMetric.summary`` (values
            ``{'mean', 'std'}``) or the flat dict returned by
            ``VolumeMetric.compute_metrics`` (``dice``, ``dice_std``, ...;
            an evaluator prefix such as ``val/`` is dropped).
        per_case (Sequence[dict]): Per-case rows, e.g.
            ``VolumeMetric.per_case``.

    Returns:
        tuple[str, str]: Paths of the JSON and the CSV file.
    """
    out_dir = Path(work_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / 'metrics.json'
    csv_path = out_dir / 'per_case.csv'
    payload = dict(summary=_to_json(_structured(summary)), per_case=_to_json(list(per_case)))
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(payload, f, indent=2, allow_nan=False)
        f.write('\n')
    columns: List[str] = []
    for row in per_case:
        columns.extend(k for k in row if k not in columns)
    with open(csv_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in per_case:
            writer.writerow(row)
    return str(json_path), str(csv_path)


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
    suffixes = []
    for key, value in structured.items():
        if key.startswith('dice') and isinstance(value, dict):
            suffixes.append(key[len('dice'):])
    for key, value in structured.items():
        for name in _NAMES[1:]:
            if key.startswith(name) and isinstance(value, dict) \
                    and key[len(name):] not in suffixes:
                suffixes.append(key[len(name):])
    rows = [('set', ) + _HEADERS]
    for suffix in suffixes:
        cells = [suffix.lstrip('_') or 'all']
        for name in _NAMES:
            cells.append(_cell(structured.get(name + suffix)))
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [' | '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, '-+-'.join('-' * w for w in widths))
    counts = [f'{k}: {v}' for k, v in structured.items() if k.startswith('num_')]
    if counts:
        lines.append(', '.join(counts))
    return '\n'.join(lines)


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
