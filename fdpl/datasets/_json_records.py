"""Private reading of the JSON records fdpl writes (split files, manifests)."""
import json
import os.path as osp
from typing import Any, Optional


def read_json_record(path: str, kind: str, fmt: Optional[str] = None, writer: str = '') -> Any:
    """Read a JSON record, failing with messages that name the file.

    Args:
        path (str): The JSON file.
        kind (str): What the file is, e.g. ``'manifest'`` or ``'split'``;
            messages speak of "<kind> file <path>".
        fmt (str, optional): Required value of the record's ``format`` key;
            None leaves the content to the caller's checks.
        writer (str): The tool that writes such files, suggested when the
            file is missing. Defaults to ``''`` (no suggestion).

    Returns:
        Any: The parsed JSON (a dict when ``fmt`` is given).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file cannot be read, is not valid JSON, or (with
            ``fmt``) is not an object whose ``format`` is ``fmt``.
    """
    if not osp.isfile(path):
        hint = f'; write one with {writer}' if writer else ''
        raise FileNotFoundError(f'{kind} file {path!r} does not exist{hint}.')
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except OSError as e:
        raise ValueError(f'cannot read {kind} file {path!r}: {e}') from e
    except ValueError as e:  # JSON syntax and text decoding errors
        raise ValueError(f'{kind} file {path!r} is not valid JSON: {e}') from e
    if fmt is not None and (not isinstance(record, dict) or record.get('format') != fmt):
        got = record.get('format') if isinstance(record, dict) else type(record).__name__
        raise ValueError(f'{path!r} is not a {kind}: key "format" must be {fmt!r}, got {got!r}.')
    return record
