"""A dataset of NIfTI cases listed in a manifest, subsets taken from a split file."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from fdpl.registry import DATASETS
from ._subsets import check_num_classes, class_metainfo, data_info, expand_path, format_missing
from .converters.nifti_folder import read_manifest
from .splits import SPLIT_SUBSETS, file_sha256, load_split, split_subset_ids

#: Parts of a split whose cases are used with their labels.
_LABELED_PARTS = ('labeled', 'val', 'test')


@DATASETS.register_module()
class ManifestDataset(BaseDataset):
    """Cases of a manifest (``tools/convert_nifti_folder.py``), one subset of a split.

    The manifest (format ``fdpl-manifest/1``) lists every case with its
    image files (one per modality) and its label file or null; the split file
    (format ``fdpl-split/1``, ``tools/make_splits.py``) assigns case ids to
    the parts ``labeled``, ``unlabeled``, ``val`` and ``test``.

    ============ ================================== =====================
    subset       cases                              ``labeled`` flag
    ============ ================================== =====================
    labeled      the split's labeled part           True
    unlabeled    the split's unlabeled part         False
    val / test   that part of the split             True
    train        labeled + unlabeled parts          True for labeled part
    all          every id of the split              True if in labeled,
                                                    val or test part
    ============ ================================== =====================

    Without a split file, ``'all'`` and ``'train'`` are every case of the
    manifest, ``'labeled'`` the cases with a label and ``'unlabeled'`` the
    cases without; ``'val'`` and ``'test'`` need a split file.

    A case of the labeled, val or test part without a label is an error
    naming the case, as is a split id that the manifest lacks. A case of the
    unlabeled part keeps its label file if it has one (the loader may read
    it to monitor pseudo-labels); otherwise ``seg_map_path`` is None. Every
    check runs when the data list is loaded, before training.

    Each data info is ``{'img_path', 'seg_map_path', 'case_id', 'labeled',
    'num_classes'}`` (absolute paths), as :class:`NiftiSegDataset` gives, so
    ``LoadNiftiVolume`` reads it; ``img_path`` is a str for one modality and a
    list of str (channel order) for several, which the loader stacks as
    channels ``(C, D, H, W)``.

    After init the dataset has the attributes ``manifest_file`` and
    ``split_file`` (absolute paths; ``split_file`` may be None) and
    ``resolved_labeled_num`` (the size of the labeled part, or of the cases
    with a label when no split is given).

    Args:
        manifest_file (str): ``manifest.json`` (``$VARS`` and ``~``
            expanded; relative to the working directory).
        split_file (str, optional): Split JSON. Defaults to None.
        subset (str): One of ``'labeled'``, ``'unlabeled'``, ``'val'``,
            ``'test'``, ``'train'``, ``'all'``. Defaults to ``'all'``.
        num_classes (int): Number of classes, background included.
            Defaults to 2.
        data_root (str, optional): Replaces the manifest's ``root`` (the
            folder its relative paths start from), e.g. after moving the
            data. Defaults to None.
        check_sha256 (bool): Hash every file at init and compare with the
            manifest (slow for large data). Defaults to False.
        metainfo (dict, optional): Extra meta information; ``classes`` must
            have ``num_classes`` entries.
        pipeline (list): Transforms.
        serialize_data, test_mode, lazy_init, indices, max_refetch: See
            mmengine ``BaseDataset``.

    Example:
        >>> ds = ManifestDataset('data/my/manifest.json',
        ...                      split_file='data/my/splits/my_labeled4_canonical.json',
        ...                      subset='labeled', num_classes=2)
    """

    METAINFO: dict = dict()

    def __init__(self,
                 manifest_file: str,
                 split_file: Optional[str] = None,
                 subset: str = 'all',
                 num_classes: int = 2,
                 data_root: Optional[str] = None,
                 check_sha256: bool = False,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 serialize_data: bool = True,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 indices: Union[int, Sequence[int], None] = None,
                 max_refetch: int = 1000) -> None:
        owner = type(self).__name__
        if subset not in SPLIT_SUBSETS:
            raise ValueError(f'{owner}: unknown subset {subset!r}; expected one of '
                             f'{SPLIT_SUBSETS}.')
        check_num_classes(num_classes, owner)
        if not manifest_file:
            raise ValueError(f'{owner}: the option `manifest_file` is required (write one with '
                             'tools/convert_nifti_folder.py).')
        self.manifest_file = expand_path(manifest_file)
        self.split_file = expand_path(split_file)
        if not osp.isfile(self.manifest_file):
            raise FileNotFoundError(f'{owner}: manifest_file {manifest_file!r} (resolved to '
                                    f'{self.manifest_file!r}) does not exist; write it with '
                                    'tools/convert_nifti_folder.py or set the option / '
                                    'FDPL_MANIFEST.')
        if self.split_file is not None and not osp.isfile(self.split_file):
            raise FileNotFoundError(f'{owner}: split_file {split_file!r} (resolved to '
                                    f'{self.split_file!r}) does not exist; write it with '
                                    'tools/make_splits.py or set the option / FDPL_SPLIT.')
        if self.split_file is None and subset in ('val', 'test'):
            raise ValueError(f'{owner}: subset {subset!r} needs the option `split_file`.')
        self.subset = subset
        self.num_classes = num_classes
        self.check_sha256 = check_sha256
        self.resolved_labeled_num: Optional[int] = None
        self.modalities: List[str] = []
        self._root_override = expand_path(data_root)
        metainfo = class_metainfo(metainfo, num_classes, owner)
        super().__init__(ann_file='', metainfo=metainfo, data_root=None, data_prefix=dict(),
                         indices=indices, serialize_data=serialize_data,
                         pipeline=list(pipeline), test_mode=test_mode, lazy_init=lazy_init,
                         max_refetch=max_refetch)

    @property
    def num_modalities(self) -> int:
        """Image files (channels) per case; known once the data list is loaded."""
        return len(self.modalities)

    def _select(self, cases: Dict[str, dict]) -> List[tuple]:
        """``(case_id, labeled)`` pairs of the subset, in split / manifest order."""
        owner = type(self).__name__
        if self.split_file is None:
            if self.subset == 'labeled':
                return [(i, True) for i, c in cases.items() if c['label'] is not None]
            if self.subset == 'unlabeled':
                return [(i, False) for i, c in cases.items() if c['label'] is None]
            return [(i, c['label'] is not None) for i, c in cases.items()]
        split = load_split(self.split_file)
        self._check_source(split)
        unknown = [i for p in ('labeled', 'unlabeled', 'val', 'test') for i in split[p]
                   if i not in cases]
        if unknown:
            raise ValueError(f'{owner}: split file {self.split_file!r} names {len(unknown)} '
                             f'case(s) that manifest {self.manifest_file!r} lacks: '
                             f'{unknown[:10]}')
        unlabeled_but_needed = [(p, i) for p in _LABELED_PARTS for i in split[p]
                                if cases[i]['label'] is None]
        if unlabeled_but_needed:
            shown = ', '.join(f'{i!r} (part {p!r})' for p, i in unlabeled_but_needed[:10])
            raise ValueError(f'{owner}: case(s) {shown} of split file {self.split_file!r} '
                             f'have no label in manifest {self.manifest_file!r}; only the '
                             "'unlabeled' part may hold cases without a label.")
        self.resolved_labeled_num = len(split['labeled'])
        labeled = set(i for p in _LABELED_PARTS for i in split[p])
        ids = split_subset_ids(split, self.subset, self.split_file)
        if not ids:
            raise ValueError(f'{owner}: subset {self.subset!r} of split file '
                             f'{self.split_file!r} is empty.')
        return [(i, i in labeled) for i in ids]

    def _check_source(self, split: dict) -> None:
        """Warn when the split was made from another version of the manifest."""
        source = split.get('source') or {}
        expected = source.get('manifest_sha256')
        if expected and expected != file_sha256(self.manifest_file):
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: split file {self.split_file!r} was made from a '
                f'manifest with sha256 {expected[:12]}..., but {self.manifest_file!r} differs '
                '(re-converted or edited since?); the ids are checked, the contents are not.')

    def load_data_list(self) -> List[dict]:
        """Read the manifest and the split, select the subset and check the files."""
        owner = type(self).__name__
        manifest = read_manifest(self.manifest_file)
        self.modalities = list(manifest['modalities'])
        root = self._root_override or manifest['root']
        if not osp.isdir(root):
            raise FileNotFoundError(
                f"{owner}: the data folder {root!r} of manifest {self.manifest_file!r} does not "
                'exist (moved?); set the option `data_root` to its new place.')
        cases = {c['id']: c for c in manifest['cases']}
        selected = self._select(cases)
        if self.split_file is None:
            self.resolved_labeled_num = sum(c['label'] is not None for c in cases.values())
        if not selected:
            raise ValueError(f'{owner}: subset {self.subset!r} of manifest '
                             f'{self.manifest_file!r} is empty.')
        infos, missing = [], []
        for case_id, labeled in selected:
            case = cases[case_id]
            imgs = [osp.join(root, p) for p in case['images']]
            lab = None if case['label'] is None else osp.join(root, case['label'])
            missing += [p for p in imgs + ([lab] if lab else []) if not osp.isfile(p)]
            infos.append(data_info(imgs, lab, case_id, labeled, self.num_classes))
        if missing:
            raise FileNotFoundError(
                format_missing(missing, f'file(s) listed in manifest {self.manifest_file!r} are',
                               owner))
        if self.check_sha256:
            self._check_hashes(root, [cases[i] for i, _ in selected])
        return infos

    def _check_hashes(self, root: str, cases: Sequence[dict]) -> None:
        for case in cases:
            for rel, expected in case['sha256'].items():
                got = file_sha256(osp.join(root, rel))
                if got != expected:
                    raise ValueError(f'{type(self).__name__}: {osp.join(root, rel)!r} has '
                                     f'sha256 {got[:12]}..., manifest {self.manifest_file!r} '
                                     f'records {expected[:12]}... (file changed since the '
                                     'conversion).')
