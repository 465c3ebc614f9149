"""A dataset of 3D volumes stored as one HDF5 file per case."""
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import h5py
from mmengine.dataset import BaseDataset

from fdpl.registry import DATASETS
from ._subsets import (LABELED_SUBSETS, check_data_root, check_num_classes, class_metainfo,
                       data_info, format_missing, read_id_list, resolve_data_root,
                       select_list_ids, select_source)


@DATASETS.register_module()
class H5SegDataset(BaseDataset):
    """Volumes and label maps in HDF5 files, one file per case.

    A list file (``ann_file``, one case id per line, relative to
    ``data_root``) orders the cases; ``path_template.format(case_id)`` gives
    each file, relative to ``data_root``. Every file holds an image dataset
    (``image_key``) and, for labeled cases, a label dataset (``label_key``),
    stored in the field's ``(W, H, D)`` order; the loading transform
    transposes them to ``(D, H, W)``. Files are opened per item by the
    pipeline, never kept open here (handles do not survive a fork).

    Subsets of the list (``num_val`` ids held out at the END of the list, as
    docs/DATA.md prescribes):

    ========== ========================================== ===========
    subset     ids                                        ``labeled``
    ========== ========================================== ===========
    all        the whole list                             True
    train      all but the last ``num_val``               True
    labeled    the first ``labeled_num`` ids of train      True
    unlabeled  the rest of train                          False
    val        the last ``num_val`` ids                   True
    ========== ========================================== ===========

    With a split file (``split_file``, written by ``tools/make_splits.py``,
    see :mod:`fdpl.datasets.splits`) the ids come from the file and
    ``ann_file`` is not read: subsets ``'labeled'``, ``'unlabeled'``,
    ``'val'``, ``'test'``, ``'train'`` (labeled + unlabeled) and ``'all'``
    (every id of the file), only ``'unlabeled'`` without labels. The split
    is logged in volumes when the dataset is built.

    Every check that can fail (paths, ids, options) runs when the dataset is
    built, before any training, with a message naming the file or option.

    Args:
        data_root (str, optional): Folder of the list file and the volumes.
            None means ``$FDPL_DATA_ROOT/<DEFAULT_SUBDIR>`` (``data/...``
            when the variable is unset); required when the class has no
            ``DEFAULT_SUBDIR``. ``$VARS`` and ``~`` are expanded.
        ann_file (str): List file, relative to ``data_root`` (not read when
            ``split_file`` is given).
        path_template (str): File of a case, relative to ``data_root``,
            with ``{}`` for the id, e.g. ``'{}.h5'``.
        subset (str): ``'all'``, ``'train'``, ``'labeled'``, ``'unlabeled'``
            or ``'val'``; also ``'test'`` with a ``split_file``. Defaults to
            ``'all'``.
        labeled_num (int | float, optional): Number of labeled training
            cases (int), or a ratio in ``(0, 1]`` (float) resolved to
            ``round(ratio * N_train)`` and logged, where ``N_train`` = list
            length minus ``num_val``. Needed for ``'labeled'`` and
            ``'unlabeled'``. Note that the field's "10 % of LA" means 8 of
            the 80 ids of train.list, so give counts to match it.
        num_val (int): Ids held out at the end of the list. Defaults to 0.
        split_file (str, optional): JSON split file; its ids replace the
            list and ``num_val``. A ``labeled_num`` (or non-zero
            ``num_val``) that disagrees with the file is an error naming
            both values. Defaults to None (the list file, as above).
        num_classes (int): Number of classes, background included; passed
            to the pipeline in every data info. Defaults to 2.
        image_key (str): HDF5 dataset of the image. Defaults to ``'image'``.
        label_key (str): HDF5 dataset of the label map. Defaults to
            ``'label'``.
        validate (bool): Open every file's header once at init (see
            :meth:`check_files`). Defaults to False.
        metainfo (dict, optional): Extra meta information; ``classes`` must
            have ``num_classes`` entries.
        pipeline (list): Transforms (configs or callables).
        serialize_data (bool): See mmengine ``BaseDataset``.
        test_mode (bool): See mmengine ``BaseDataset``.
        lazy_init (bool): See mmengine ``BaseDataset``; the file checks then
            run at ``full_init``.
        indices (int | Sequence[int], optional): See mmengine
            ``BaseDataset``.
        max_refetch (int): See mmengine ``BaseDataset``.

    Each data info is ``{'img_path', 'seg_map_path', 'case_id', 'labeled',
    'num_classes'}``; for HDF5 both paths name the same file. An unlabeled
    case keeps its ``seg_map_path`` (the loader may read the label for
    monitoring), but no label is required to exist.

    Attributes set at init: ``split_file`` (absolute path or None),
    ``resolved_labeled_num`` (the split's labeled count with a split file;
    otherwise the count of labeled cases for the ``'labeled'`` /
    ``'unlabeled'`` subsets once the list is read, else None) and
    ``manifest_file`` (always None here).

    Example:
        >>> ds = H5SegDataset(data_root='data/LA', ann_file='train.list',
        ...                   path_template='2018LA_Seg_Training Set/{}/mri_norm2.h5',
        ...                   subset='labeled', labeled_num=8, num_val=16)
    """

    METAINFO: dict = dict()
    #: Folder under ``$FDPL_DATA_ROOT`` used when ``data_root`` is None.
    DEFAULT_SUBDIR: str = ''

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'train.list',
                 path_template: str = '{}.h5',
                 subset: str = 'all',
                 labeled_num: Union[int, float, None] = None,
                 num_val: int = 0,
                 split_file: Optional[str] = None,
                 num_classes: int = 2,
                 image_key: str = 'image',
                 label_key: str = 'label',
                 validate: bool = False,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 indices: Union[int, Sequence[int], None] = None,
                 max_refetch: int = 1000) -> None:
        owner = type(self).__name__
        self.manifest_file: Optional[str] = None
        (self.split_file, self._split_ids, self._split_labeled,
         self.resolved_labeled_num) = select_source(split_file, subset, labeled_num, num_val,
                                                    owner)
        if '{}' not in path_template:
            raise ValueError(f"{owner}: path_template {path_template!r} must contain '{{}}' "
                             'where the case id goes.')
        check_num_classes(num_classes, owner)
        data_root = resolve_data_root(data_root, self.DEFAULT_SUBDIR, owner)
        check_data_root(data_root, owner)
        if not ann_file and split_file is None:
            raise ValueError(f'{owner}: the option `ann_file` (list of case ids) is required.')
        self.path_template = path_template
        self.subset = subset
        self.labeled_num = labeled_num
        self.num_val = num_val
        self.num_classes = num_classes
        self.image_key = image_key
        self.label_key = label_key
        self.validate = validate
        metainfo = class_metainfo(metainfo, num_classes, owner, self.METAINFO.get('classes'))
        super().__init__(ann_file=ann_file or '', metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(), indices=indices, serialize_data=serialize_data,
                         pipeline=list(pipeline), test_mode=test_mode, lazy_init=lazy_init,
                         max_refetch=max_refetch)

    @property
    def is_labeled(self) -> bool:
        """Whether the subset is used with its labels."""
        return self.subset in LABELED_SUBSETS

    def case_path(self, case_id: str) -> str:
        """File of one case."""
        return osp.join(self.data_root, self.path_template.format(case_id))

    def load_data_list(self) -> List[dict]:
        """Read the list file, select the subset and check that files exist.

        With a split file, the subset's ids come from it (read at init).

        Returns:
            list[dict]: One data info per case, in list (or file) order.
        """
        owner = type(self).__name__
        if self._split_ids is not None:
            return self._infos(self._split_ids, self._split_labeled,
                               f'split file {self.split_file!r}')
        ids = read_id_list(self.ann_file, owner)
        try:
            selected, labeled, self.resolved_labeled_num = select_list_ids(
                ids, self.subset, self.labeled_num, self.num_val, owner)
        except ValueError as e:
            raise ValueError(f'{e} (list file {self.ann_file!r})') from e
        return self._infos(selected, labeled, repr(self.ann_file))

    def _infos(self, selected: Sequence[str], labeled: Sequence[bool],
               origin: str) -> List[dict]:
        """Data infos of the selected ids (``labeled``: one flag per id); files must exist."""
        paths = [self.case_path(i) for i in selected]
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise FileNotFoundError(
                format_missing(missing, f'file(s) of ids listed in {origin} are',
                               type(self).__name__) + f'\n(path_template={self.path_template!r})')
        return [
            data_info(p, p, i, lab, self.num_classes)
            for i, p, lab in zip(selected, paths, labeled)
        ]

    def full_init(self) -> None:
        """Load the data list and, if ``validate``, check every file header."""
        if self._fully_initialized:
            return
        super().full_init()
        if self.validate:
            self.check_files()

    def check_files(self, keys: Optional[Sequence[str]] = None) -> None:
        """Open each file's header and check keys and shapes (no array is read).

        Args:
            keys (Sequence[str], optional): Datasets that must exist. Defaults
                to ``(image_key, label_key)`` for cases used with labels and
                ``(image_key,)`` for the others (``'unlabeled'``). When both the image and
                the label are present, the label shape must equal the image's
                spatial shape (a 4-D image is stored channels first).

        Raises:
            ValueError: A file cannot be opened (truncated, corrupt, not
                HDF5) or the shapes disagree; the message names the file.
            KeyError: A required dataset is absent; the message names the
                file and the keys it has.
        """
        for idx in range(len(self)):
            info = self.get_data_info(idx)
            need = keys
            if need is None:
                need = ((self.image_key, self.label_key) if info['labeled'] else
                        (self.image_key, ))
            self._check_one(info['img_path'], tuple(need))

    def _check_one(self, path: str, keys: tuple) -> None:
        try:
            f = h5py.File(path, 'r')
        except (OSError, ValueError) as e:
            raise ValueError(f'{type(self).__name__}: cannot open {path!r} as HDF5 (truncated or '
                             f'corrupt file?): {e}') from e
        with f:
            try:
                present = list(f.keys())
                shapes = {k: f[k].shape for k in present if isinstance(f[k], h5py.Dataset)}
            except (OSError, RuntimeError, KeyError) as e:
                raise ValueError(f'{type(self).__name__}: cannot read the header of {path!r} '
                                 f'(truncated or corrupt file?): {e}') from e
        absent = [k for k in keys if k not in shapes]
        if absent:
            raise KeyError(f'{type(self).__name__}: {path!r} lacks dataset(s) {absent}; it has '
                           f'{present}.')
        img = shapes.get(self.image_key)
        lab = shapes.get(self.label_key)
        if img is not None and lab is not None:
            # a 4-D image is stored channels first, (C, <spatial>), as the loader reads it
            if len(lab) != 3 or img[-3:] != lab or len(img) not in (3, 4):
                raise ValueError(f'{type(self).__name__}: in {path!r} the label shape {lab} does '
                                 f'not match the image shape {img}.')
