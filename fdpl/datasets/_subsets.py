"""Private helpers shared by the volume datasets: data root, id lists, subsets.

Subset semantics (one list of ``N`` case ids, ``num_val`` held out):

* ``val``: the LAST ``num_val`` ids of the list;
* ``train``: the first ``N - num_val`` ids (``all`` minus ``val``);
* ``labeled``: the first ``labeled_num`` ids of ``train``;
* ``unlabeled``: the remaining ``train`` ids;
* ``all``: the whole list.
"""
import math
import os
import os.path as osp
from collections import Counter
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.logging import MMLogger

#: Environment variable naming the parent folder of the data sets.
DATA_ROOT_ENV = 'FDPL_DATA_ROOT'
#: Subsets understood by every volume dataset of fdpl.
SUBSETS = ('all', 'train', 'labeled', 'unlabeled', 'val')
#: Subsets whose cases are used with their labels.
LABELED_SUBSETS = ('all', 'train', 'labeled', 'val')


def resolve_data_root(data_root: Optional[str], default_subdir: str, owner: str) -> str:
    """Resolve the ``data_root`` option of a dataset.

    ``None`` means ``$FDPL_DATA_ROOT/<default_subdir>`` (``data/<default_subdir>``
    when the variable is unset). Environment variables and ``~`` in a given
    path are expanded.

    Args:
        data_root (str, optional): The option as given.
        default_subdir (str): Sub-folder of the data root used when
            ``data_root`` is None; empty means the option is required.
        owner (str): Class name used in error messages.

    Returns:
        str: The resolved folder (not checked for existence).
    """
    if data_root is None or data_root == '':
        if not default_subdir:
            raise ValueError(f'{owner}: the option `data_root` is required (a folder holding '
                             'the list file and the volumes).')
        base = os.environ.get(DATA_ROOT_ENV) or 'data'
        return osp.join(base, default_subdir)
    return osp.expanduser(osp.expandvars(str(data_root)))


def check_data_root(data_root: str, owner: str) -> None:
    """Raise ``FileNotFoundError`` naming the option and variable if missing."""
    if not osp.isdir(data_root):
        raise FileNotFoundError(
            f'{owner}: data_root {data_root!r} does not exist or is not a folder. Set the '
            f'dataset option `data_root`, or the environment variable {DATA_ROOT_ENV} (the '
            f"parent folder of the data sets, e.g. '$FDPL_DATA_ROOT/LA'); "
            f"{DATA_ROOT_ENV}={os.environ.get(DATA_ROOT_ENV)!r}. See docs DATA.md for how "
            'to get the data, or use the synthetic data set.')


def read_id_list(ann_file: str, owner: str) -> List[str]:
    """Read a list file: one case id per line, blank lines and ``#`` comments skipped.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file holds no id, or an id appears twice.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{owner}: list file (option `ann_file`) {ann_file!r} '
                                'does not exist.')
    with open(ann_file, encoding='utf-8') as f:
        ids = [line.strip() for line in f]
    ids = [i for i in ids if i and not i.startswith('#')]
    if not ids:
        raise ValueError(f'{owner}: list file {ann_file!r} holds no case id.')
    dups = sorted(k for k, v in Counter(ids).items() if v > 1)
    if dups:
        more = f' (and {len(dups) - 10} more)' if len(dups) > 10 else ''
        raise ValueError(f'{owner}: list file {ann_file!r} holds duplicate ids: '
                         f'{dups[:10]}{more}')
    return ids


def check_subset_options(subset: str, labeled_num: Union[int, float, None], num_val: int,
                         owner: str) -> None:
    """Validate the subset options without looking at any file."""
    if subset not in SUBSETS:
        raise ValueError(f'{owner}: unknown subset {subset!r}; expected one of {SUBSETS}.')
    if isinstance(num_val, bool) or not isinstance(num_val, int) or num_val < 0:
        raise ValueError(f'{owner}: num_val must be an int >= 0, got {num_val!r}.')
    if labeled_num is None:
        if subset in ('labeled', 'unlabeled'):
            raise ValueError(f'{owner}: subset {subset!r} needs the option `labeled_num` (an '
                             'int count or a float ratio in (0, 1]).')
        return
    if isinstance(labeled_num, bool) or not isinstance(labeled_num, (int, float)):
        raise ValueError(f'{owner}: labeled_num must be an int count or a float ratio in '
                         f'(0, 1], got {labeled_num!r}.')
    if isinstance(labeled_num, float) and not 0.0 < labeled_num <= 1.0:
        raise ValueError(f'{owner}: a float labeled_num is a ratio and must lie in (0, 1], '
                         f'got {labeled_num!r}.')


def resolve_labeled_num(labeled_num: Union[int, float], num_train: int, owner: str) -> int:
    """Turn ``labeled_num`` into a count of training cases.

    An int is a count; a float in ``(0, 1]`` is a ratio resolved to
    ``round(ratio * num_train)`` (halves rounded up) and logged.

    Raises:
        ValueError: The count is below 1 or above ``num_train``.
    """
    if isinstance(labeled_num, float):
        count = int(math.floor(labeled_num * num_train + 0.5))
        MMLogger.get_current_instance().info(
            f'{owner}: labeled_num={labeled_num} of {num_train} training cases resolves to '
            f'{count} labeled cases.')
    else:
        count = int(labeled_num)
    if count < 1:
        raise ValueError(f'{owner}: labeled_num={labeled_num!r} gives {count} labeled cases; '
                         'at least 1 is needed.')
    if count > num_train:
        raise ValueError(f'{owner}: labeled_num={labeled_num!r} exceeds the {num_train} '
                         'training cases (list length minus num_val).')
    return count


def split_ids(ids: Sequence[str], subset: str, labeled_num: Union[int, float, None],
              num_val: int, owner: str) -> Tuple[List[str], bool]:
    """Select the ids of a subset.

    Args:
        ids (Sequence[str]): All ids of the list file, in order.
        subset (str): One of :data:`SUBSETS`.
        labeled_num (int | float, optional): Count or ratio of labeled cases.
        num_val (int): Number of ids held out at the END of the list.
        owner (str): Class name used in messages.

    Returns:
        tuple[list[str], bool]: The ids of the subset (list order) and whether
        they are used with labels.
    """
    check_subset_options(subset, labeled_num, num_val, owner)
    num_train = len(ids) - num_val
    if num_train < 1:
        raise ValueError(f'{owner}: num_val={num_val} leaves no training case out of the '
                         f'{len(ids)} ids of the list.')
    train, val = list(ids[:num_train]), list(ids[num_train:])
    if subset == 'all':
        return list(ids), True
    if subset == 'train':
        return train, True
    if subset == 'val':
        if not val:
            raise ValueError(f"{owner}: subset 'val' is empty; set num_val > 0.")
        return val, True
    # labeled_num matters (and is checked against the list) only from here on
    count = resolve_labeled_num(labeled_num, num_train, owner)
    if subset == 'labeled':
        return train[:count], True
    unlabeled = train[count:]
    if not unlabeled:
        raise ValueError(f"{owner}: subset 'unlabeled' is empty: labeled_num={labeled_num!r} "
                         f'uses all {num_train} training cases.')
    return unlabeled, False


def format_missing(paths: Sequence[str], what: str, owner: str) -> str:
    """Message listing up to 10 missing files."""
    shown = '\n  '.join(paths[:10])
    more = f'\n  ... and {len(paths) - 10} more' if len(paths) > 10 else ''
    return f'{owner}: {len(paths)} {what} missing:\n  {shown}{more}'
