"""Private helpers shared by the volume datasets: data root, id lists, subsets.

Subset semantics (one list of ``N`` case ids, ``num_val`` held out):

* ``val``: the LAST ``num_val`` ids of the list;
* ``train``: the first ``N - num_val`` ids (``all`` minus ``val``);
* ``labeled``: the first ``labeled_num`` ids of ``train``;
* ``unlabeled``: the remaining ``train`` ids;
* ``all``: the whole list.

With a split file (option ``split_file``, see :mod:`fdpl.datasets.splits`)
the ids come from the file instead: :func:`select_split_ids`.

The volume datasets also share here their option checks (:func:`check_num_classes`,
:func:`class_metainfo`), the choice between a split file and a list
(:func:`select_source`, :func:`select_list_ids`) and the layout of a data
info (:func:`data_info`).
"""
import math
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import MMLogger

from .splits import SPLIT_SUBSETS, load_split, split_subset_ids

#: Environment variable naming the parent folder of the data sets.
DATA_ROOT_ENV = 'FDPL_DATA_ROOT'
#: Subsets understood by every volume dataset of fdpl.
SUBSETS = ('all', 'train', 'labeled', 'unlabeled', 'val')
#: Subsets whose cases are used with their labels (``'test'`` needs a split file).
LABELED_SUBSETS = ('all', 'train', 'labeled', 'val', 'test')


def expand_path(path: Optional[str]) -> Optional[str]:
    """Absolute path with ``$VARS`` and ``~`` expanded; None or ``''`` gives None."""
    if path is None or path == '':
        return None
    return osp.abspath(osp.expanduser(osp.expandvars(str(path))))


def check_num_classes(num_classes: int, owner: str) -> None:
    """Raise ``ValueError`` unless ``num_classes`` is an int >= 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f'{owner}: num_classes must be an int >= 2, got {num_classes!r}.')


def default_classes(num_classes: int, binary_name: str = 'foreground') -> tuple:
    """Class names ``('background', binary_name)`` for 2 classes, else ``class1``, ...."""
    if num_classes == 2:
        return ('background', binary_name)
    return ('background', ) + tuple(f'class{i}' for i in range(1, num_classes))


def class_metainfo(metainfo: Optional[dict],
                   num_classes: int,
                   owner: str,
                   inherited_classes: Optional[Sequence[str]] = None,
                   binary_name: str = 'foreground') -> dict:
    """The ``metainfo`` option of a dataset with its ``classes`` checked or filled in.

    Args:
        metainfo (dict, optional): The option as given (not modified).
        num_classes (int): Number of classes, background included.
        owner (str): Class name used in messages.
        inherited_classes (Sequence[str], optional): Classes of the dataset
            class (its ``METAINFO``), used when ``metainfo`` names none.
        binary_name (str): Name of the foreground class when there are two
            classes and none are given. Defaults to ``'foreground'``.

    Returns:
        dict: A copy of ``metainfo``; without given or inherited classes it
        holds :func:`default_classes`.

    Raises:
        ValueError: The classes do not number ``num_classes``.
    """
    metainfo = dict(metainfo or {})
    classes = metainfo.get('classes', inherited_classes)
    if classes is None:
        metainfo['classes'] = default_classes(num_classes, binary_name)
    elif len(classes) != num_classes:
        raise ValueError(f'{owner}: metainfo classes {tuple(classes)} do not match '
                         f'num_classes={num_classes}.')
    return metainfo


def data_info(images: Union[str, Sequence[str]], seg_map_path: Optional[str], case_id: str,
              labeled: bool, num_classes: int) -> Dict:
    """One data info of a volume dataset.

    Args:
        images (str | Sequence[str]): Image file, or one file per modality.
        seg_map_path (str, optional): Label file.
        case_id (str): Id of the case.
        labeled (bool): Whether the case is used with its label.
        num_classes (int): Number of classes, for the pipeline.

    Returns:
        dict: ``{'img_path', 'seg_map_path', 'case_id', 'labeled',
        'num_classes'}``; ``img_path`` is a str for one image file and a list
        of str (channel order) for several.
    """
    if not isinstance(images, str):
        images = images[0] if len(images) == 1 else list(images)
    return dict(img_path=images, seg_map_path=seg_map_path, case_id=case_id,
                labeled=bool(labeled), num_classes=num_classes)


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
        hint = (" (subset 'test' needs the option `split_file`)" if subset == 'test' else '')
        raise ValueError(f'{owner}: unknown subset {subset!r}; expected one of {SUBSETS}'
                         f'{hint}.')
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


def select_list_ids(ids: Sequence[str], subset: str, labeled_num: Union[int, float, None],
                    num_val: int, owner: str) -> Tuple[List[str], List[bool], Optional[int]]:
    """Select the ids of a subset of a list (no split file), as :func:`split_ids`.

    Returns:
        tuple[list[str], list[bool], int | None]: The ids of the subset, one
        ``labeled`` flag per id, and the count of labeled training cases for
        the ``'labeled'`` and ``'unlabeled'`` subsets (None for the others).
    """
    selected, labeled = split_ids(ids, subset, labeled_num, num_val, owner)
    count = None
    if subset == 'labeled':
        count = len(selected)
    elif subset == 'unlabeled':
        count = len(ids) - num_val - len(selected)
    return selected, [labeled] * len(selected), count


def format_missing(paths: Sequence[str], what: str, owner: str) -> str:
    """Message listing up to 10 missing files."""
    shown = '\n  '.join(paths[:10])
    more = f'\n  ... and {len(paths) - 10} more' if len(paths) > 10 else ''
    return f'{owner}: {len(paths)} {what} missing:\n  {shown}{more}'


def select_split_ids(split_file: str, subset: str, labeled_num: Union[int, float, None],
                     num_val: int, owner: str) -> Tuple[str, List[str], List[bool], int]:
    """Select the ids of a subset from a split file (option ``split_file``).

    The file is read and validated (:func:`fdpl.datasets.splits.load_split`);
    ``labeled_num`` and ``num_val``, when given, must agree with it (an int
    ``labeled_num`` equal to the file's, a float ratio resolving to it over
    labeled + unlabeled; ``num_val`` 0 means "not given"). The split is
    logged in volumes, e.g. ``LADataset: split la_labeled8_canonical.json:
    8 labeled volumes, 56 unlabeled, 16 val, 20 test``.

    Args:
        split_file (str): Path of the JSON file (``$VARS`` and ``~``
            expanded; relative to the working folder).
        subset (str): One of :data:`fdpl.datasets.splits.SPLIT_SUBSETS`.
        labeled_num (int | float, optional): As given to the dataset.
        num_val (int): As given to the dataset.
        owner (str): Class name used in messages.

    Returns:
        tuple[str, list[str], list[bool], int]: Absolute path of the file,
        the ids of the subset (file order), whether each is used with its
        label (every id not in the ``unlabeled`` part), and the split's
        labeled count.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is invalid, the subset is unknown or empty, or
            an option conflicts with the file; messages name the file and
            the option.
    """
    if not isinstance(split_file, (str, os.PathLike)) or not str(split_file):
        raise ValueError(f'{owner}: the option `split_file` must be a path (str) or None, got '
                         f'{split_file!r}.')
    path = expand_path(split_file)
    where = f'{owner}: split file {path!r} (option `split_file`)'
    if subset not in SPLIT_SUBSETS:
        raise ValueError(f'{where}: unknown subset {subset!r}; expected one of {SPLIT_SUBSETS}.')
    if isinstance(num_val, bool) or not isinstance(num_val, int) or num_val < 0:
        raise ValueError(f'{owner}: num_val must be an int >= 0, got {num_val!r}.')
    try:
        split = load_split(path)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{owner}: option `split_file`: {e}') from e
    except ValueError as e:
        raise ValueError(f'{owner}: option `split_file`: {e}') from e
    count = split['labeled_num']
    num_train = len(split['labeled']) + len(split['unlabeled'])
    if labeled_num is not None:
        if isinstance(labeled_num, bool) or not isinstance(labeled_num, (int, float)):
            raise ValueError(f'{owner}: labeled_num must be an int count or a float ratio in '
                             f'(0, 1], got {labeled_num!r}.')
        wanted = labeled_num
        if isinstance(labeled_num, float):
            if not 0.0 < labeled_num <= 1.0:
                raise ValueError(f'{owner}: a float labeled_num is a ratio and must lie in '
                                 f'(0, 1], got {labeled_num!r}.')
            wanted = int(math.floor(labeled_num * num_train + 0.5))
        if wanted != count:
            raise ValueError(
                f'{where} has labeled_num={count}, which conflicts with the option '
                f'`labeled_num`={labeled_num!r}' +
                (f' ({wanted} of {num_train} training cases)' if wanted != labeled_num else '') +
                '; drop `labeled_num` or point `split_file` at a file with that many labeled '
                'cases (tools/make_splits.py).')
    if num_val and num_val != len(split['val']):
        raise ValueError(f"{where} holds {len(split['val'])} val ids, which conflicts with the "
                         f'option `num_val`={num_val}; drop `num_val` or fix the file.')
    ids = split_subset_ids(split, subset, path)
    if not ids:
        raise ValueError(f'{where}: subset {subset!r} is empty in this file.')
    parts = ', '.join(f'{len(split[p])} {p}' for p in ('unlabeled', 'val', 'test'))
    MMLogger.get_current_instance().info(
        f"{owner}: split {osp.basename(path)}: {count} labeled volumes, {parts}; subset "
        f'{subset!r}: {len(ids)} volumes (from {path}).')
    unlabeled = set(split['unlabeled'])
    return path, ids, [i not in unlabeled for i in ids], count


def select_source(
        split_file: Optional[str], subset: str, labeled_num: Union[int, float, None], num_val: int,
        owner: str) -> Tuple[Optional[str], Optional[List[str]], List[bool], Optional[int]]:
    """Check the subset options against a split file or, without one, a list.

    Without a split file only the options are checked (the list is read
    later, by the dataset); with one, :func:`select_split_ids` reads it.

    Returns:
        tuple: ``(split_file, ids, labeled, labeled_num)``: the absolute path
        of the split file, the ids of the subset, one ``labeled`` flag per
        id and the split's labeled count, or ``(None, None, [], None)``
        without a split file.
    """
    if split_file is None:
        check_subset_options(subset, labeled_num, num_val, owner)
        return None, None, [], None
    return select_split_ids(split_file, subset, labeled_num, num_val, owner)
