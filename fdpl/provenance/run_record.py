"""What produced a run: code, environment, seed, config and data, as one JSON record.

:func:`collect_env` gathers the record that
:class:`~fdpl.engine.hooks.RunRecordHook` writes as ``env.json`` into every
training work dir and ``tools/test.py`` next to its ``metrics.json``;
:func:`write_env_json` writes it (strict JSON, atomically). The other
functions are the pieces: file hashes, the git state of the fdpl checkout,
package versions, the data files behind the datasets and a JSON-safe copy
of arbitrary values.

Record keys (format ``fdpl-run-record/1``):

* ``fdpl_version``, ``git_commit``, ``git_dirty`` (tracked files changed;
  both None when fdpl does not run from a git checkout), ``git_root``;
* ``python``, ``python_executable``, ``platform``, ``packages`` (versions of
  torch, mmengine, mmcv, mmsegmentation, numpy, medpy; None if missing);
* ``cuda`` (``available``, ``cuda_version``, ``cudnn_version``,
  ``device_count``, ``devices``), ``cpu`` (``model``, ``count``,
  ``usable``, ``torch_threads``, ``torch_interop_threads``,
  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``);
* ``seed``, ``deterministic`` (``cfg.randomness.deterministic`` unless
  given);
* ``config_file``, ``config`` (``cfg.to_dict()`` made JSON-safe);
* ``data``: ``split_file``, ``split_sha256``, ``manifest_file``,
  ``manifest_sha256``, ``labeled_num`` (labeled volumes), ``dataset_type``
  and ``datasets`` (one entry per leaf dataset and role, with its own files
  and hashes) and ``config_files`` (``split_file``/``manifest_file`` keys
  found in the config's dataloader dicts);
* ``created`` (UTC, ISO 8601), ``kind`` ('train', 'test', ...), ``work_dir``,
  and whatever ``extra`` adds.
"""
import datetime
import hashlib
import json
import math
import os
import os.path as osp
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch

__all__ = [
    'RECORD_FORMAT', 'file_sha256', 'git_state', 'package_versions', 'to_json_safe',
    'iter_leaf_datasets', 'describe_data', 'collect_env', 'write_env_json'
]

#: Value of the record's ``format`` key.
RECORD_FORMAT = 'fdpl-run-record/1'

# distribution names tried for each package, first installed one wins
_PACKAGES: Dict[str, Tuple[str, ...]] = {
    'torch': ('torch', ),
    'mmengine': ('mmengine', ),
    'mmcv': ('mmcv', 'mmcv-lite', 'mmcv-full'),
    'mmsegmentation': ('mmsegmentation', ),
    'numpy': ('numpy', ),
    'medpy': ('medpy', 'MedPy'),
}
_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_FILE_KEYS = ('split_file', 'manifest_file')


def file_sha256(path: Optional[str], chunk_size: int = 1 << 20) -> Optional[str]:
    """Hex sha256 of a file's bytes.

    Args:
        path (str, optional): File path.
        chunk_size (int): Bytes read at a time.

    Returns:
        str | None: The digest; None if ``path`` is None or not a file.
    """
    if not path or not osp.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk_size), b''):
            digest.update(block)
    return digest.hexdigest()


def _git(args: Sequence[str], cwd: str) -> Optional[str]:
    try:
        proc = subprocess.run(['git'] + list(args), cwd=cwd, capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(path: Optional[str] = None) -> Dict[str, Any]:
    """Commit and dirtiness of the git checkout holding ``path`` (read-only git calls).

    Args:
        path (str, optional): A folder inside the checkout. Defaults to the
            folder above the installed ``fdpl`` package.

    Returns:
        dict: ``git_commit`` (40 hex digits), ``git_dirty`` (True when a
        tracked file differs from the commit; untracked files do not
        count) and ``git_root``; all three None when ``path`` is not in a
        git checkout or git is not installed.
    """
    if path is None:
        path = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    none = dict(git_commit=None, git_dirty=None, git_root=None)
    if not osp.isdir(path):
        return none
    commit = _git(['rev-parse', 'HEAD'], path)
    root = _git(['rev-parse', '--show-toplevel'], path)
    if not commit or not root:
        return none
    status = _git(['status', '--porcelain', '--untracked-files=no'], path)
    dirty = None if status is None else bool(status.strip())
    return dict(git_commit=commit.strip(), git_dirty=dirty, git_root=root.strip())


def package_versions(names: Optional[Sequence[str]] = None) -> Dict[str, Optional[str]]:
    """Installed versions (from package metadata, nothing is imported).

    Args:
        names (Sequence[str], optional): Keys of the result. Defaults to
            torch, mmengine, mmcv, mmsegmentation, numpy, medpy; ``mmcv``
            also matches ``mmcv-lite`` and ``mmcv-full``.

    Returns:
        dict: Name to version string, None if not installed.
    """
    out: Dict[str, Optional[str]] = {}
    for name in names or _PACKAGES:
        out[name] = None
        for dist in _PACKAGES.get(name, (name, )):
            try:
                out[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def _cpu_model() -> Optional[str]:
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.lower().startswith(('model name', 'hardware', 'cpu model')):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _cpu_info() -> Dict[str, Any]:
    try:
        usable: Optional[int] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return dict(model=_cpu_model(), count=os.cpu_count(), usable=usable,
                torch_threads=torch.get_num_threads(),
                torch_interop_threads=torch.get_num_interop_threads(),
                OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS'),
                MKL_NUM_THREADS=os.environ.get('MKL_NUM_THREADS'))


def _cuda_info() -> Dict[str, Any]:
    available = torch.cuda.is_available()
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    info: Dict[str, Any] = dict(available=available, cuda_version=torch.version.cuda,
                                cudnn_version=cudnn, device_count=0, devices=[])
    if available:
        count = torch.cuda.device_count()
        info.update(device_count=count,
                    devices=[torch.cuda.get_device_name(i) for i in range(count)])
    return info


def to_json_safe(obj: Any) -> Any:
    """Copy of ``obj`` made of JSON types only.

    dict keys become strings, tuples/sets lists, numpy and torch scalars
    Python numbers, small arrays and tensors nested lists; NaN and infinite
    floats become None; anything else (classes, functions, objects) its
    ``repr``, so that the record can always be written.

    Args:
        obj: Any value, e.g. ``cfg.to_dict()``.

    Returns:
        A value ``json.dumps(..., allow_nan=False)`` accepts.
    """
    if isinstance(obj, Mapping):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_json_safe(v) for v in obj), key=repr)
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, bytes):
        return obj.decode('utf-8', errors='replace')
    if isinstance(obj, torch.Tensor) or type(obj).__module__ == 'numpy':
        if getattr(obj, 'ndim', None) == 0:
            return to_json_safe(obj.item())
        if hasattr(obj, 'shape') and hasattr(obj, 'tolist'):
            numel = obj.numel() if isinstance(obj, torch.Tensor) else int(obj.size)
            if numel <= 4096:
                return to_json_safe(obj.tolist())
            return f'<{type(obj).__name__} shape={tuple(obj.shape)} dtype={obj.dtype}>'
    if isinstance(obj, type):
        return f'{obj.__module__}.{obj.__qualname__}'
    return repr(obj)


def iter_leaf_datasets(dataset: Any) -> Iterator[Any]:
    """Datasets inside concatenation and wrapper datasets, depth first.

    Walks ``.datasets`` (``ConcatDataset`` of mmengine or torch) and
    ``.dataset`` (``RepeatDataset``, ``ClassBalancedDataset``, ``Subset``).

    Args:
        dataset: A dataset object, or None.

    Yields:
        The leaf datasets, in order.
    """
    if dataset is None:
        return
    children = getattr(dataset, 'datasets', None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from iter_leaf_datasets(child)
        return
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and inner is not dataset and not isinstance(inner, (dict, str)):
        yield from iter_leaf_datasets(inner)
        return
    yield dataset


def _abspath(path: Any) -> Optional[str]:
    if path is None or path == '':
        return None
    return osp.abspath(osp.expanduser(str(path)))


def _labeled_from_split(path: Optional[str]) -> Optional[int]:
    """``labeled_num`` (or the length of ``labeled``) of a JSON split file."""
    if not path or not osp.isfile(path) or not path.endswith('.json'):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            split = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(split, dict):
        return None
    if isinstance(split.get('labeled_num'), int):
        return split['labeled_num']
    if isinstance(split.get('labeled'), list):
        return len(split['labeled'])
    return None


def _config_file_keys(cfg: Any) -> List[Dict[str, Any]]:
    """``split_file``/``manifest_file`` entries of the config's dataloader dicts."""
    found: List[Dict[str, Any]] = []

    def walk(obj: Any, where: str) -> None:
        if isinstance(obj, Mapping):
            for key in _FILE_KEYS:
                if obj.get(key):
                    path = _abspath(obj[key])
                    found.append(dict(where=f'{where}.{key}', key=key, path=path,
                                      sha256=file_sha256(path)))
            for key, value in obj.items():
                if isinstance(value, (Mapping, list, tuple)):
                    walk(value, f'{where}.{key}')
        elif isinstance(obj, (list, tuple)):
            for i, value in enumerate(obj):
                walk(value, f'{where}[{i}]')

    for name in _DATALOADERS:
        try:
            loader = cfg.get(name) if cfg is not None else None
        except AttributeError:
            loader = None
        if loader:
            walk(loader, name)
    return found


def describe_data(datasets: Union[Mapping[str, Any], Sequence[Any], Any, None] = None,
                  cfg: Any = None) -> Dict[str, Any]:
    """Data files behind a run: split and manifest files, their hashes, labeled count.

    Dataset objects are read through the attributes every fdpl dataset sets
    after init (``split_file``, ``manifest_file``, ``resolved_labeled_num``,
    each possibly None or absent); ``split_file`` and ``manifest_file`` keys
    of the config's ``train/val/test_dataloader`` dicts are used as well.
    The top-level ``split_file`` and ``manifest_file`` are the first found,
    training datasets first, then the config.

    Args:
        datasets (dict | Sequence | dataset, optional): Role (e.g. 'train')
            to dataset, or datasets (role 'train'), or one dataset.
        cfg (Config | dict, optional): The run's config.

    Returns:
        dict: ``split_file``, ``split_sha256``, ``manifest_file``,
        ``manifest_sha256``, ``labeled_num`` (int or None), ``dataset_type``
        (leaf class names of the first role, joined by '+'), ``datasets``
        (list of per-dataset dicts: ``role``, ``type``, ``subset``,
        ``num_samples``, ``resolved_labeled_num``, ``split_file``,
        ``split_sha256``, ``manifest_file``, ``manifest_sha256``) and
        ``config_files``.
    """
    if datasets is None:
        roles: List[Tuple[str, Any]] = []
    elif isinstance(datasets, Mapping):
        roles = list(datasets.items())
    elif isinstance(datasets, (list, tuple)):
        roles = [('train', d) for d in datasets]
    else:
        roles = [('train', datasets)]
    entries: List[Dict[str, Any]] = []
    hashes: Dict[str, Optional[str]] = {}

    def sha(path: Optional[str]) -> Optional[str]:
        if path not in hashes:
            hashes[path] = file_sha256(path)
        return hashes[path]

    for role, dataset in roles:
        for leaf in iter_leaf_datasets(dataset):
            split = _abspath(getattr(leaf, 'split_file', None))
            manifest = _abspath(getattr(leaf, 'manifest_file', None))
            labeled = getattr(leaf, 'resolved_labeled_num', None)
            try:
                num = len(leaf)
            except Exception:  # noqa: BLE001 - lazily initialised or unsized datasets
                num = None
            entries.append(dict(
                role=role, type=type(leaf).__name__, subset=getattr(leaf, 'subset', None),
                num_samples=num, resolved_labeled_num=labeled if isinstance(labeled, int)
                else None, split_file=split, split_sha256=sha(split), manifest_file=manifest,
                manifest_sha256=sha(manifest)))
    config_files = _config_file_keys(cfg)

    def first(key: str) -> Optional[str]:
        for entry in entries:
            if entry[key]:
                return entry[key]
        for entry in config_files:
            if entry['key'] == key and entry['path']:
                return entry['path']
        return None

    split_file, manifest_file = first('split_file'), first('manifest_file')
    labeled_num = next((e['resolved_labeled_num'] for e in entries
                        if e['resolved_labeled_num'] is not None), None)
    if labeled_num is None:
        labeled_num = _labeled_from_split(split_file)
    first_role = roles[0][0] if roles else None
    types = [e['type'] for e in entries if e['role'] == first_role]
    dataset_type = '+'.join(dict.fromkeys(types)) or None
    return dict(split_file=split_file, split_sha256=sha(split_file),
                manifest_file=manifest_file, manifest_sha256=sha(manifest_file),
                labeled_num=labeled_num, dataset_type=dataset_type, datasets=entries,
                config_files=config_files)


def _cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    try:
        value = cfg.get(key, default)
    except AttributeError:
        return default
    return default if value is None else value


def collect_env(cfg: Any = None,
                datasets: Union[Mapping[str, Any], Sequence[Any], Any, None] = None,
                seed: Optional[int] = None,
                deterministic: Optional[bool] = None,
                kind: str = 'train',
                work_dir: Optional[str] = None,
                extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Collect the run record (see the module docstring for its keys).

    Reads the environment and the given objects only; writes nothing.

    Args:
        cfg (Config | dict, optional): The run's resolved config.
        datasets (dict | Sequence | dataset, optional): The built datasets,
            e.g. ``{'train': runner.train_dataloader.dataset}``; see
            :func:`describe_data`.
        seed (int, optional): The seed actually used (``runner.seed``);
            defaults to ``cfg.randomness.seed``.
        deterministic (bool, optional): Defaults to
            ``cfg.randomness.deterministic`` (False if unset).
        kind (str): What the record describes ('train', 'test').
        work_dir (str, optional): Defaults to ``cfg.work_dir``.
        extra (dict, optional): More keys, made JSON-safe and merged last.

    Returns:
        dict: The record, JSON-safe.
    """
    from fdpl.version import __version__
    randomness = _cfg_get(cfg, 'randomness', {}) or {}
    if seed is None:
        seed = randomness.get('seed')
    if deterministic is None:
        deterministic = bool(randomness.get('deterministic', False))
    config_file = getattr(cfg, 'filename', None) if cfg is not None else None
    if cfg is None:
        resolved: Any = None
    elif hasattr(cfg, 'to_dict'):
        resolved = cfg.to_dict()
    else:
        resolved = dict(cfg)
    record: Dict[str, Any] = dict(
        format=RECORD_FORMAT,
        kind=kind,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        fdpl_version=__version__,
        **git_state(),
        python=platform.python_version(),
        python_executable=sys.executable,
        platform=platform.platform(),
        packages=package_versions(),
        cuda=_cuda_info(),
        cpu=_cpu_info(),
        seed=seed,
        deterministic=bool(deterministic),
        work_dir=_abspath(work_dir if work_dir is not None else _cfg_get(cfg, 'work_dir')),
        config_file=_abspath(config_file),
        config=resolved,
        data=describe_data(datasets, cfg),
    )
    if extra:
        record.update(extra)
    return to_json_safe(record)


def write_env_json(path: str, record: Mapping[str, Any]) -> str:
    """Write a record as indented strict JSON (NaN refused), atomically.

    Args:
        path (str): Output file; its folder is created if missing.
        record (dict): E.g. from :func:`collect_env`; made JSON-safe first.

    Returns:
        str: ``path``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(to_json_safe(record), f, indent=2, allow_nan=False)
        f.write('\n')
    os.replace(tmp, path)
    return path
