"""Split files: explicit case ids of the labeled, unlabeled, validation and test parts.

A split file is JSON (format ``fdpl-split/1``)::

    {"format": "fdpl-split/1", "dataset": "LA", "strategy": "canonical", "seed": null,
     "labeled_num": 8,
     "source": {"list": "train.list", "test_list": "test.list",
                "manifest": null, "manifest_sha256": null},
     "labeled": [...], "unlabeled": [...], "val": [...], "test": [...]}

Two strategies build one from an ordered list of training ids:

* ``canonical`` (the field's split, :func:`make_canonical_split`):
  ``val`` = the LAST ``num_val`` training ids, ``labeled`` = the FIRST
  ``labeled_num`` ids, ``unlabeled`` = the rest, each part in list order;
* ``random`` (:func:`make_random_split`): ``val`` is the same as above; the
  other training ids are permuted by ``np.random.default_rng(seed)``, the
  first ``labeled_num`` of the permutation are labeled and the rest
  unlabeled (permutation order). With ``shuffle_val=True`` the validation
  ids are drawn from the permutation too (its last ``num_val``).

In both, ``test`` is the test list unchanged, and ids that have no label
(``unlabeled_ids``, e.g. cases of a manifest whose label is null) are
appended to ``unlabeled`` in their given order: they never enter another
part. The same inputs and numpy version give the same file; the file
stores every id, so it, not the seed, is the record of an experiment.

:func:`load_split` validates a file fully (format, parts, types,
duplicates, overlaps, ``labeled_num``) and names the file and the ids in
every error; :func:`split_subset_ids` turns a split into the ids of a
dataset subset.
"""
import hashlib
import json
import os
import os.path as osp
import tempfile
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np

from ._json_records import read_json_record

#: Value of the ``format`` key of every split file.
SPLIT_FORMAT = 'fdpl-split/1'
#: The parts of a split, in file order.
SPLIT_PARTS = ('labeled', 'unlabeled', 'val', 'test')
#: Strategies a split file may name.
SPLIT_STRATEGIES = ('canonical', 'random')
#: Subsets a dataset can take from a split file: the four parts, ``'train'``
#: (labeled + unlabeled) and ``'all'`` (every id of the file).
SPLIT_SUBSETS = ('labeled', 'unlabeled', 'val', 'test', 'train', 'all')
#: Keys of the ``source`` record.
SOURCE_KEYS = ('list', 'test_list', 'manifest', 'manifest_sha256')


def _where(path: Optional[str]) -> str:
    return f'split file {path!r}' if path else 'split'


def _shown(ids: Sequence[str], limit: int = 10) -> str:
    ids = list(ids)
    more = f' (and {len(ids) - limit} more)' if len(ids) > limit else ''
    return f'{ids[:limit]}{more}'


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_split(split: dict, path: Optional[str] = None) -> dict:
    """Check a split record and return it.

    Args:
        split (dict): The record (as read from JSON).
        path (str, optional): File it came from, named in error messages.

    Returns:
        dict: ``split`` itself.

    Raises:
        ValueError: The format key is missing or unknown, a part is missing
            or not a list of non-empty str, an id appears twice in a part or
            in two parts (the message names the ids and the parts), or
            ``labeled_num`` differs from the number of labeled ids; also for
            a ``strategy``, ``seed``, ``dataset`` or ``source`` of the wrong
            type.
    """
    where = _where(path)
    if not isinstance(split, dict):
        raise ValueError(f'{where}: expected a JSON object, got {type(split).__name__}.')
    fmt = split.get('format')
    if fmt != SPLIT_FORMAT:
        raise ValueError(f'{where}: key "format" must be {SPLIT_FORMAT!r}, got {fmt!r} (is this '
                         'a split file written by tools/make_splits.py?).')
    missing = [p for p in SPLIT_PARTS + ('labeled_num', ) if p not in split]
    if missing:
        raise ValueError(f'{where}: missing key(s) {missing}; a split file has '
                         f'{list(SPLIT_PARTS)} and "labeled_num".')
    for part in SPLIT_PARTS:
        ids = split[part]
        if not isinstance(ids, list):
            raise ValueError(f'{where}: part {part!r} must be a list of case ids (str), got '
                             f'{type(ids).__name__}.')
        bad = [i for i in ids if not isinstance(i, str) or not i.strip() or i != i.strip()]
        if bad:
            raise ValueError(f'{where}: part {part!r} must hold non-empty str ids without '
                             f'surrounding blanks; bad entries: {_shown(bad)}.')
        dups = sorted(k for k, v in Counter(ids).items() if v > 1)
        if dups:
            raise ValueError(f'{where}: part {part!r} lists these ids more than once: '
                             f'{_shown(dups)}.')
    owner: Dict[str, str] = {}
    clashes: Dict[tuple, List[str]] = {}
    for part in SPLIT_PARTS:
        for i in split[part]:
            if i in owner:
                clashes.setdefault((owner[i], part), []).append(i)
            else:
                owner[i] = part
    if clashes:
        lines = '; '.join(f'{a!r} and {b!r} share {_shown(ids)}' for (a, b), ids in clashes.items())
        raise ValueError(f'{where}: an id may be in only one part, but {lines}.')
    num = split['labeled_num']
    if not _is_count(num) or num < 0:
        raise ValueError(f'{where}: "labeled_num" must be an int >= 0, got {num!r}.')
    if num != len(split['labeled']):
        raise ValueError(f'{where}: "labeled_num" is {num} but part \'labeled\' holds '
                         f"{len(split['labeled'])} ids.")
    strategy = split.get('strategy')
    if strategy is not None and strategy not in SPLIT_STRATEGIES:
        raise ValueError(f'{where}: "strategy" must be one of {SPLIT_STRATEGIES}, got '
                         f'{strategy!r}.')
    seed = split.get('seed')
    if seed is not None and not _is_count(seed):
        raise ValueError(f'{where}: "seed" must be an int or null, got {seed!r}.')
    if strategy == 'random' and seed is None:
        raise ValueError(f'{where}: a random split needs its "seed".')
    dataset = split.get('dataset')
    if dataset is not None and not isinstance(dataset, str):
        raise ValueError(f'{where}: "dataset" must be a str, got {dataset!r}.')
    source = split.get('source')
    if source is not None and not isinstance(source, dict):
        raise ValueError(f'{where}: "source" must be an object, got {source!r}.')
    return split


def load_split(path: str) -> dict:
    """Read and validate a split file.

    Args:
        path (str): The JSON file.

    Returns:
        dict: The split record (see the module docstring).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is not valid JSON or not a valid split (see
            :func:`validate_split`); the message names the file.
    """
    return validate_split(read_json_record(path, 'split', writer='tools/make_splits.py'), path)


def write_split(path: str, split: dict) -> str:
    """Validate a split and write it as JSON (atomically, parent folders created).

    Args:
        path (str): Output file.
        split (dict): The record.

    Returns:
        str: ``path``.
    """
    validate_split(split, path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.split.', suffix='.json', dir=folder)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(dumps_split(split))
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def dumps_split(split: dict) -> str:
    """The exact text :func:`write_split` writes (one id per line, final newline)."""
    return json.dumps(split, indent=2, ensure_ascii=False) + '\n'


def file_sha256(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk_size), b''):
            digest.update(block)
    return digest.hexdigest()


def _check_inputs(train_ids: Sequence[str], labeled_num: int, num_val: int,
                  test_ids: Sequence[str], unlabeled_ids: Sequence[str]) -> int:
    """Check the arguments of the split makers; returns the training-pool size."""
    if not _is_count(labeled_num) or labeled_num < 1:
        raise ValueError(f'labeled_num must be an int >= 1, got {labeled_num!r}.')
    if not _is_count(num_val) or num_val < 0:
        raise ValueError(f'num_val must be an int >= 0, got {num_val!r}.')
    pool = len(train_ids) - num_val
    if labeled_num > pool:
        raise ValueError(f'labeled_num={labeled_num} exceeds the {pool} training ids that can be '
                         f'labeled ({len(train_ids)} ids with a label minus num_val={num_val}).')
    for name, ids in (('train_ids', train_ids), ('test_ids', test_ids),
                      ('unlabeled_ids', unlabeled_ids)):
        if isinstance(ids, str):
            raise ValueError(f'{name} must be a sequence of ids, not a str.')
    return pool


def _record(dataset: str, strategy: str, seed: Optional[int], labeled: List[str],
            unlabeled: List[str], val: List[str], test: List[str],
            source: Optional[dict]) -> dict:
    src = {k: None for k in SOURCE_KEYS}
    src.update(source or {})
    split = dict(format=SPLIT_FORMAT, dataset=dataset, strategy=strategy, seed=seed,
                 labeled_num=len(labeled), source=src, labeled=labeled, unlabeled=unlabeled,
                 val=val, test=test)
    return validate_split(split)


def make_canonical_split(train_ids: Sequence[str],
                         labeled_num: int,
                         num_val: int = 0,
                         test_ids: Sequence[str] = (),
                         unlabeled_ids: Sequence[str] = (),
                         dataset: str = '',
                         source: Optional[dict] = None) -> dict:
    """The field's split: first ``labeled_num`` labeled, last ``num_val`` for validation.

    Args:
        train_ids (Sequence[str]): Training ids with labels, in list order
            (e.g. ``train.list``).
        labeled_num (int): Number of labeled ids (>= 1).
        num_val (int): Ids held out at the END of ``train_ids``. Defaults
            to 0.
        test_ids (Sequence[str]): The test ids (e.g. ``test.list``).
        unlabeled_ids (Sequence[str]): Ids without a label; appended to
            ``unlabeled``.
        dataset (str): Name stored in the record.
        source (dict, optional): Provenance (``list``, ``test_list``,
            ``manifest``, ``manifest_sha256``); missing keys become None.

    Returns:
        dict: The split record (validated).

    Example:
        >>> s = make_canonical_split(['a', 'b', 'c', 'd', 'e'], 2, num_val=1, test_ids=['t'])
        >>> s['labeled'], s['unlabeled'], s['val'], s['test']
        (['a', 'b'], ['c', 'd'], ['e'], ['t'])
    """
    pool = _check_inputs(train_ids, labeled_num, num_val, test_ids, unlabeled_ids)
    train_ids = list(train_ids)
    return _record(dataset, 'canonical', None, train_ids[:labeled_num],
                   train_ids[labeled_num:pool] + list(unlabeled_ids), train_ids[pool:],
                   list(test_ids), source)


def make_random_split(train_ids: Sequence[str],
                      labeled_num: int,
                      seed: int,
                      num_val: int = 0,
                      test_ids: Sequence[str] = (),
                      unlabeled_ids: Sequence[str] = (),
                      dataset: str = '',
                      source: Optional[dict] = None,
                      shuffle_val: bool = False) -> dict:
    """A random labeled subset drawn with ``np.random.default_rng(seed)``.

    By default the validation ids (the last ``num_val`` of ``train_ids``)
    and the test ids stay those of the canonical split; the remaining ids
    are permuted once and the first ``labeled_num`` of the permutation are
    labeled, the rest unlabeled (permutation order), then ``unlabeled_ids``.

    Args:
        train_ids (Sequence[str]): Training ids with labels, in list order.
        labeled_num (int): Number of labeled ids (>= 1).
        seed (int): Split seed (not the training seed).
        num_val (int): Validation ids. Defaults to 0.
        test_ids (Sequence[str]): The test ids, kept as given.
        unlabeled_ids (Sequence[str]): Ids without a label.
        dataset (str): Name stored in the record.
        source (dict, optional): Provenance, as in
            :func:`make_canonical_split`.
        shuffle_val (bool): Permute all ``train_ids`` instead and take the
            validation ids from the END of the permutation. Defaults to
            False (validation fixed).

    Returns:
        dict: The split record (validated).
    """
    pool = _check_inputs(train_ids, labeled_num, num_val, test_ids, unlabeled_ids)
    if not _is_count(seed) or seed < 0:
        raise ValueError(f'seed must be an int >= 0, got {seed!r}.')
    rng = np.random.default_rng(seed)
    train_ids = list(train_ids)
    if shuffle_val:
        order = [train_ids[i] for i in rng.permutation(len(train_ids))]
        drawn, val = order[:pool], order[pool:]
    else:
        drawn = [train_ids[i] for i in rng.permutation(pool)]
        val = train_ids[pool:]
    return _record(dataset, 'random', int(seed), drawn[:labeled_num],
                   drawn[labeled_num:] + list(unlabeled_ids), val, list(test_ids), source)


def make_split(strategy: str, train_ids: Sequence[str], labeled_num: int,
               seed: Optional[int] = None, **kwargs) -> dict:
    """Dispatch to :func:`make_canonical_split` or :func:`make_random_split`.

    Args:
        strategy (str): ``'canonical'`` or ``'random'``.
        train_ids (Sequence[str]): Training ids with labels, in list order.
        labeled_num (int): Number of labeled ids.
        seed (int, optional): Split seed; required for ``'random'``, must be
            None for ``'canonical'``.
        **kwargs: Other arguments of the chosen function.

    Returns:
        dict: The split record.
    """
    if strategy == 'canonical':
        if seed is not None:
            raise ValueError(f'a canonical split takes no seed, got seed={seed!r}.')
        return make_canonical_split(train_ids, labeled_num, **kwargs)
    if strategy == 'random':
        if seed is None:
            raise ValueError('a random split needs a seed.')
        return make_random_split(train_ids, labeled_num, seed, **kwargs)
    raise ValueError(f'strategy must be one of {SPLIT_STRATEGIES}, got {strategy!r}.')


def split_file_name(dataset: str, labeled_num: int, seed: Optional[int] = None) -> str:
    """``<dataset lower>_labeled<N>_canonical.json`` or ``..._seed<k>.json``."""
    stem = ''.join(c if c.isalnum() else '_' for c in dataset.lower()).strip('_')
    if not stem:
        raise ValueError(f'dataset name {dataset!r} gives an empty file name.')
    tail = 'canonical' if seed is None else f'seed{seed}'
    return f'{stem}_labeled{labeled_num}_{tail}.json'


def split_subset_ids(split: dict, subset: str, path: Optional[str] = None) -> List[str]:
    """Ids of a dataset subset of a (validated) split.

    Args:
        split (dict): The split record.
        subset (str): One of :data:`SPLIT_SUBSETS`: a part, ``'train'``
            (labeled then unlabeled) or ``'all'`` (the four parts in file
            order).
        path (str, optional): File named in error messages.

    Returns:
        list[str]: The ids, in file order.
    """
    if subset not in SPLIT_SUBSETS:
        raise ValueError(f'{_where(path)}: unknown subset {subset!r}; expected one of '
                         f'{SPLIT_SUBSETS}.')
    if subset == 'train':
        return list(split['labeled']) + list(split['unlabeled'])
    if subset == 'all':
        return [i for part in SPLIT_PARTS for i in split[part]]
    return list(split[subset])
