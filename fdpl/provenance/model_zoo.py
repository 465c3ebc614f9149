"""Model-zoo entries (one JSON file per published checkpoint) and the page built from them.

``tools/publish_model.py`` writes an entry with :func:`make_zoo_entry` into
``docs/model_zoo/<name>.json`` and regenerates ``docs/model_zoo.md`` with
:func:`format_model_zoo` over :func:`load_zoo_entries`.

Entry keys (format ``fdpl-model-zoo/1``): ``name``, ``file``, ``sha256``,
``size`` (bytes), ``config``, ``dataset``, ``split``, ``split_sha256``,
``manifest``, ``manifest_sha256``, ``labeled_num``, ``iter``, ``seed``,
``validation`` (``{'iter', 'metrics'}`` or None), ``test_metrics`` (the
``summary`` of a ``metrics.json`` or None), ``fdpl_version``,
``git_commit``, ``git_dirty``, ``source_checkpoint``.
"""
import json
import os
import os.path as osp
import re
from typing import Any, Dict, List, Mapping, Optional

__all__ = [
    'ENTRY_FORMAT', 'check_model_name', 'make_zoo_entry', 'load_zoo_entries', 'format_model_zoo'
]

#: Value of an entry's ``format`` key.
ENTRY_FORMAT = 'fdpl-model-zoo/1'
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
_METRICS = (('dice', 'Dice %'), ('jaccard', 'Jaccard %'), ('hd95', '95HD'), ('asd', 'ASD'))


def check_model_name(name: str) -> str:
    """Return ``name`` if it is usable as a file name stem, else raise.

    Raises:
        ValueError: Not letters, digits, '_', '.', '-' (first a letter or
            digit).
    """
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith('.pth'):
        raise ValueError(f'--name {name!r}: expected letters, digits, "_", "." or "-", starting '
                         'with a letter or digit, without the .pth suffix')
    return name


def _relative(path: Optional[str], root: Optional[str]) -> Optional[str]:
    """``path`` relative to ``root`` when inside it; a file of another checkout's
    ``configs/`` folder (a run made from another clone) relative to that checkout; else
    as given."""
    if not path or not root:
        return path
    rel = osp.relpath(osp.abspath(path), osp.abspath(root))
    if not rel.startswith('..'):
        return rel.replace(os.sep, '/')
    posix = osp.abspath(path).replace(os.sep, '/')
    cut = posix.rfind('/configs/')
    return posix[cut + 1:] if cut >= 0 else path


def make_zoo_entry(name: str, file: str, sha256: str, size: int, meta: Mapping[str, Any],
                   test_metrics: Optional[Mapping[str, Any]] = None,
                   source_checkpoint: Optional[str] = None,
                   root: Optional[str] = None) -> Dict[str, Any]:
    """Entry of one published checkpoint.

    Args:
        name (str): Model name.
        file (str): Published file (made relative to ``root``).
        sha256 (str): Its sha256.
        size (int): Its size in bytes.
        meta (dict): The checkpoint's ``meta``; ``meta['fdpl']`` (written by
            :class:`~fdpl.engine.hooks.RunRecordHook`) gives the config,
            data and validation fields, missing ones are None.
        test_metrics (dict, optional): ``summary`` of a test ``metrics.json``.
        source_checkpoint (str, optional): The training checkpoint.
        root (str, optional): Paths inside it are stored relative to it
            (the repository root).

    Returns:
        dict: The entry (see the module docstring).
    """
    stamp = meta.get('fdpl') if isinstance(meta.get('fdpl'), Mapping) else {}
    return dict(
        format=ENTRY_FORMAT,
        name=check_model_name(name),
        file=_relative(file, root),
        sha256=sha256,
        size=int(size),
        config=_relative(stamp.get('config_file'), root),
        dataset=stamp.get('dataset_type'),
        split=_relative(stamp.get('split_file'), root),
        split_sha256=stamp.get('split_sha256'),
        manifest=_relative(stamp.get('manifest_file'), root),
        manifest_sha256=stamp.get('manifest_sha256'),
        labeled_num=stamp.get('labeled_num'),
        iter=stamp.get('iter', meta.get('iter')),
        seed=stamp.get('seed', meta.get('seed')),
        validation=stamp.get('validation'),
        test_metrics=dict(test_metrics) if test_metrics else None,
        fdpl_version=stamp.get('fdpl_version'),
        git_commit=stamp.get('git_commit'),
        git_dirty=stamp.get('git_dirty'),
        source_checkpoint=_relative(source_checkpoint, root),
    )


def load_zoo_entries(entries_dir: str) -> List[Dict[str, Any]]:
    """All ``*.json`` entries of a folder, sorted by name.

    Args:
        entries_dir (str): Folder of entries; a missing folder has none.

    Returns:
        list[dict]: The entries.

    Raises:
        ValueError: A file that is not a JSON object with ``name``, naming
            the file.
    """
    if not osp.isdir(entries_dir):
        return []
    entries = []
    for fname in sorted(os.listdir(entries_dir)):
        if not fname.endswith('.json'):
            continue
        path = osp.join(entries_dir, fname)
        try:
            with open(path, encoding='utf-8') as f:
                entry = json.load(f)
        except ValueError as error:
            raise ValueError(f'model-zoo entry {path!r} is not valid JSON: {error}') from error
        if not isinstance(entry, dict) or 'name' not in entry:
            raise ValueError(f'model-zoo entry {path!r}: expected a JSON object with "name"')
        entries.append(entry)
    return sorted(entries, key=lambda e: str(e['name']))


def _score(value: Any) -> str:
    if isinstance(value, Mapping):
        mean, std = value.get('mean'), value.get('std')
        if isinstance(mean, (int, float)):
            return f'{mean:.2f} ± {std:.2f}' if isinstance(std, (int, float)) else f'{mean:.2f}'
        return 'n/a'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'{value:.2f}'
    return '-'


def _code(text: Any) -> str:
    return f'`{text}`' if text not in (None, '') else '-'


def _size(nbytes: Any) -> str:
    if not isinstance(nbytes, int):
        return '-'
    for unit in ('B', 'KiB', 'MiB'):
        if nbytes < 1024:
            return f'{nbytes:.0f} {unit}' if unit == 'B' else f'{nbytes:.1f} {unit}'
        nbytes /= 1024
    return f'{nbytes:.1f} GiB'


def format_model_zoo(entries: List[Mapping[str, Any]]) -> str:
    """Markdown page of the published models (deterministic for the same entries).

    Args:
        entries (list[dict]): Entries from :func:`load_zoo_entries`.

    Returns:
        str: The page, ending with a newline.
    """
    lines = [
        '# Model zoo', '',
        '<!-- Generated by `python tools/publish_model.py --regen-docs` from docs/model_zoo/*.json;'
        ' edit the entries, not this page. -->', '',
        'Checkpoints published with `tools/publish_model.py`: weights and provenance only '
        '(`state_dict` + `meta`, no optimizer state), loadable with '
        '`torch.load(path, weights_only=True)`. The file name ends with the first 8 hex digits '
        'of its sha256; check a download with `sha256sum`. Test one with',
        '',
        '```bash',
        'python tools/test.py CONFIG model_zoo/FILE --work-dir work_dirs/zoo_test',
        '```', '',
        'Validation: the last validation before the checkpoint was written (its iteration in '
        'brackets). Test: the `summary` of the `metrics.json` given when publishing '
        '(mean ± std over cases). Dice in %, distances as the metric was configured.', '',
    ]
    if not entries:
        lines += ['No model has been published yet.', '']
        return '\n'.join(lines)
    lines += ['| name | config | dataset | labeled | split | iter | val Dice | test Dice | '
              'test 95HD | file | size | commit |',
              '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for e in entries:
        val = e.get('validation') or {}
        val_metrics = val.get('metrics') or {}
        val_cell = _score(val_metrics.get('dice'))
        if val_cell != '-' and val.get('iter') is not None:
            val_cell += f' ({val["iter"]})'
        test = e.get('test_metrics') or {}
        split = e.get('split')
        split_cell = '-' if not split else \
            f'`{split}` ({str(e.get("split_sha256") or "")[:8] or "no hash"})'
        commit = e.get('git_commit')
        commit_cell = '-' if not commit else \
            f'`{commit[:10]}`' + (' (dirty)' if e.get('git_dirty') else '')
        lines.append(' | '.join([
            f'| {e["name"]}', _code(e.get('config')), e.get('dataset') or '-',
            str(e.get('labeled_num')) if e.get('labeled_num') is not None else '-', split_cell,
            str(e.get('iter')) if e.get('iter') is not None else '-', val_cell,
            _score(test.get('dice')), _score(test.get('hd95')), _code(e.get('file')),
            _size(e.get('size')), commit_cell
        ]) + ' |')
    lines += ['', 'Full test metrics:', '']
    lines += ['| name | ' + ' | '.join(h for _, h in _METRICS) + ' | sha256 |',
              '|---|' + '---|' * len(_METRICS) + '---|']
    for e in entries:
        test = e.get('test_metrics') or {}
        lines.append(f'| {e["name"]} | ' + ' | '.join(_score(test.get(k)) for k, _ in _METRICS)
                     + f' | `{e.get("sha256")}` |')
    lines.append('')
    return '\n'.join(lines)
