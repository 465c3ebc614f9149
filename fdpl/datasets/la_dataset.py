"""The left atrium (LA) data set in the field's HDF5 layout."""
from typing import Optional, Union

from fdpl.registry import DATASETS
from .h5_dataset import H5SegDataset


@DATASETS.register_module()
class LADataset(H5SegDataset):
    """LA 2018 (UA-MT preprocessing): ``<data_root>/2018LA_Seg_Training Set/<id>/mri_norm2.h5``.

    Keys ``image`` (float32) and ``label`` (uint8, {0, 1}), both stored
    ``(W, H, D)``; lists ``train.list`` (80 ids) and ``test.list`` (20 ids).
    The project's development split (docs/DATA.md) holds out the last 16 ids
    of ``train.list`` (``num_val=16``) and labels the first 4 / 8 / 16.

    Args:
        data_root (str, optional): Folder holding the lists and
            ``2018LA_Seg_Training Set/``. None means ``$FDPL_DATA_ROOT/LA``
            (``data/LA`` when the variable is unset).
        ann_file (str): List file. Defaults to ``'train.list'``.
        path_template (str): Defaults to
            ``'2018LA_Seg_Training Set/{}/mri_norm2.h5'``.
        subset (str): See :class:`H5SegDataset`. Defaults to ``'all'``.
        labeled_num (int | float, optional): See :class:`H5SegDataset`.
        num_val (int): See :class:`H5SegDataset`. Defaults to 0.
        split_file (str, optional): Split file with explicit ids (see
            :class:`H5SegDataset`); the LA files of the field's canonical
            split and of random split seeds ship in
            ``configs/_base_/splits/la/``. Defaults to None.
        validate (bool): Open every file's header when the dataset is
            built, so that a truncated file or a missing ``image`` /
            ``label`` dataset fails before training, naming the file (a few
            milliseconds per case). Defaults to True.
        **kwargs: Other :class:`H5SegDataset` arguments (``pipeline``,
            ``lazy_init``, ...).
    """

    METAINFO: dict = dict(classes=('background', 'left_atrium'))
    DEFAULT_SUBDIR: str = 'LA'

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: str = 'train.list',
                 path_template: str = '2018LA_Seg_Training Set/{}/mri_norm2.h5',
                 subset: str = 'all',
                 labeled_num: Union[int, float, None] = None,
                 num_val: int = 0,
                 split_file: Optional[str] = None,
                 validate: bool = True,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            ann_file=ann_file,
            path_template=path_template,
            subset=subset,
            labeled_num=labeled_num,
            num_val=num_val,
            split_file=split_file,
            validate=validate,
            **kwargs)
