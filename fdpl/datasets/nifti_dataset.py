"""A dataset of 3D volumes stored as NIfTI files (Decathlon / nnU-Net / BraTS layouts)."""
import glob
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

import nibabel as nib
from mmengine.dataset import BaseDataset

from fdpl.registry import DATASETS
from ._subsets import (LABELED_SUBSETS, check_data_root, check_num_classes, class_metainfo,
                       data_info, format_missing, read_id_list, resolve_data_root,
                       select_list_ids, select_source)
from ._templates import fill_template, ids_matching, path_template


@DATASETS.register_module()
class NiftiSegDataset(BaseDataset):
    """Volumes and label maps as NIfTI files, one or several image files per case.

    The image of case ``id`` and modality suffix ``m`` is
    ``<data_root>/<img_dir>/<id><m><suffix>`` and its label
    ``<data_root>/<label_dir>/<id><label_suffix><suffix>``; ``img_dir`` and
    ``label_dir`` may contain ``{}`` for per-case folders. Layouts:

    * Decathlon: ``img_dir='imagesTr'``, ``label_dir='labelsTr'``,
      ``modalities=('',)`` (the defaults);
    * nnU-Net raw: as above with ``modalities=('_0000',)`` (or more channels);
    * BraTS: ``img_dir='{}'``, ``label_dir='{}'``,
      ``modalities=('_flair',)``, ``label_suffix='_seg'``.

    Case ids come from ``ann_file`` (one per line, relative to ``data_root``)
    or, when it is None, from the files of the first modality (sorted;
    names starting with ``.`` skipped). Subsets, ``labeled_num`` and
    ``num_val`` behave as in :class:`H5SegDataset`, and so does
    ``split_file``: with a split file the ids come from it (subsets
    ``'labeled'``, ``'unlabeled'``, ``'val'``, ``'test'``, ``'train'``,
    ``'all'``) and neither ``ann_file`` nor the files are used to list them.
    A case of the ``'unlabeled'`` subset may lack its label file
    (``seg_map_path`` is then None); any other case without one is an error
    naming the file.

    Attributes set at init: ``split_file`` (absolute path or None),
    ``resolved_labeled_num`` (as in :class:`H5SegDataset`) and
    ``manifest_file`` (always None here).

    Args:
        data_root (str): Folder of the data set (``$VARS`` and ``~``
            expanded).
        ann_file (str, optional): List file of ids. Defaults to None.
        img_dir (str): Image folder. Defaults to ``'imagesTr'``.
        label_dir (str): Label folder. Defaults to ``'labelsTr'``.
        suffix (str): File extension. Defaults to ``'.nii.gz'``.
        modalities (str | Sequence[str]): Image file suffixes, one per
            channel, in channel order. Defaults to ``('',)``.
        label_suffix (str): Label file suffix. Defaults to ``''``.
        subset (str): See :class:`H5SegDataset`. Defaults to ``'all'``.
        labeled_num (int | float, optional): See :class:`H5SegDataset`.
        num_val (int): See :class:`H5SegDataset`. Defaults to 0.
        split_file (str, optional): See :class:`H5SegDataset`. Defaults to
            None.
        num_classes (int): Number of classes. Defaults to 2.
        validate (bool): Check every header at init (:meth:`check_files`).
            Defaults to False.
        metainfo (dict, optional): Extra meta information.
        pipeline (list): Transforms.
        serialize_data, test_mode, lazy_init, indices, max_refetch: See
            mmengine ``BaseDataset``.

    Each data info is ``{'img_path', 'seg_map_path', 'case_id', 'labeled',
    'num_classes'}``; ``img_path`` is a str for one modality and a list of
    str (channel order) for several.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: Optional[str] = None,
                 img_dir: str = 'imagesTr',
                 label_dir: str = 'labelsTr',
                 suffix: str = '.nii.gz',
                 modalities: Union[str, Sequence[str]] = ('', ),
                 label_suffix: str = '',
                 subset: str = 'all',
                 labeled_num: Union[int, float, None] = None,
                 num_val: int = 0,
                 split_file: Optional[str] = None,
                 num_classes: int = 2,
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
        if isinstance(modalities, str):
            modalities = (modalities, )
        if len(modalities) == 0:
            raise ValueError(f'{owner}: modalities must name at least one image suffix.')
        check_num_classes(num_classes, owner)
        data_root = resolve_data_root(data_root, '', owner)
        check_data_root(data_root, owner)
        self.img_dir = img_dir
        self.label_dir = label_dir
        self.suffix = suffix
        self.modalities = tuple(modalities)
        self.label_suffix = label_suffix
        self.subset = subset
        self.labeled_num = labeled_num
        self.num_val = num_val
        self.num_classes = num_classes
        self.validate = validate
        metainfo = class_metainfo(metainfo, num_classes, owner, binary_name='class1')
        super().__init__(ann_file=ann_file or '', metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(), indices=indices, serialize_data=serialize_data,
                         pipeline=list(pipeline), test_mode=test_mode, lazy_init=lazy_init,
                         max_refetch=max_refetch)

    @property
    def is_labeled(self) -> bool:
        """Whether the subset is used with its labels."""
        return self.subset in LABELED_SUBSETS

    def _image_template(self, modality: str) -> str:
        return path_template(self.img_dir, modality, self.suffix)

    def image_paths(self, case_id: str) -> List[str]:
        """Image files of one case, one per modality."""
        return [
            osp.join(self.data_root, fill_template(self._image_template(m), case_id))
            for m in self.modalities
        ]

    def label_path(self, case_id: str) -> str:
        """Label file of one case (may not exist)."""
        tmpl = path_template(self.label_dir, self.label_suffix, self.suffix)
        return osp.join(self.data_root, fill_template(tmpl, case_id))

    def _discover_ids(self) -> List[str]:
        tmpl = self._image_template(self.modalities[0])
        ids = ids_matching(self.data_root, tmpl)
        if not ids:
            pattern = osp.join(glob.escape(self.data_root), tmpl.replace('{}', '*'))
            raise FileNotFoundError(
                f'{type(self).__name__}: no image file matches {pattern!r} (options data_root, '
                'img_dir, modalities, suffix); give `ann_file` or fix the layout.')
        return sorted(ids)

    def load_data_list(self) -> List[dict]:
        """Collect the ids, select the subset and check that files exist."""
        owner = type(self).__name__
        if self._split_ids is not None:
            selected, flags = self._split_ids, self._split_labeled
        else:
            ids = read_id_list(self.ann_file, owner) if self.ann_file else self._discover_ids()
            selected, flags, self.resolved_labeled_num = select_list_ids(
                ids, self.subset, self.labeled_num, self.num_val, owner)
        infos, missing_img, missing_lab = [], [], []
        for case_id, labeled in zip(selected, flags):
            imgs = self.image_paths(case_id)
            missing_img += [p for p in imgs if not osp.isfile(p)]
            lab = self.label_path(case_id)
            if not osp.isfile(lab):
                if labeled:
                    missing_lab.append(lab)
                lab = None
            infos.append(data_info(imgs, lab, case_id, labeled, self.num_classes))
        origin = (f'\n(ids from the split file {self.split_file!r})'
                  if self.split_file is not None else '')
        if missing_img:
            raise FileNotFoundError(
                format_missing(missing_img, 'image file(s) are', owner) + origin)
        if missing_lab:
            raise FileNotFoundError(
                format_missing(missing_lab, f'label file(s) of {self.subset!r} cases are',
                               owner) + '\n(only the unlabeled subset may lack labels)' + origin)
        return infos

    def full_init(self) -> None:
        """Load the data list and, if ``validate``, check every header."""
        if self._fully_initialized:
            return
        super().full_init()
        if self.validate:
            self.check_files()

    def check_files(self) -> None:
        """Read each NIfTI header (no voxel data) and check the shapes agree.

        All modalities of a case must share a spatial shape and the label (if
        any) must have it too (a 4D image contributes its first three axes).

        Raises:
            ValueError: A header cannot be read or shapes disagree; the
                message names the file.
        """
        for idx in range(len(self)):
            info = self.get_data_info(idx)
            imgs = info['img_path'] if isinstance(info['img_path'], list) else [info['img_path']]
            shapes = {p: self._header_shape(p)[:3] for p in imgs}
            ref_path, ref = imgs[0], shapes[imgs[0]]
            for p, s in shapes.items():
                if s != ref:
                    raise ValueError(f'{type(self).__name__}: image {p!r} has spatial shape {s}, '
                                     f'but {ref_path!r} has {ref}.')
            lab = info['seg_map_path']
            if lab is not None:
                s = self._header_shape(lab)
                if s[:3] != ref or any(n != 1 for n in s[3:]):
                    raise ValueError(f'{type(self).__name__}: label {lab!r} has shape {s}, but '
                                     f'the image {ref_path!r} has spatial shape {ref}.')

    def _header_shape(self, path: str) -> tuple:
        try:
            return tuple(nib.load(path).shape)
        except Exception as e:  # nibabel raises several unrelated types
            raise ValueError(f'{type(self).__name__}: cannot read the NIfTI header of {path!r} '
                             f'(truncated or corrupt file?): {e}') from e
