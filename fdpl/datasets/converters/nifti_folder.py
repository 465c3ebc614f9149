"""A folder of NIfTI volumes -> a manifest and, optionally, fdpl's HDF5 layout.

The source folder holds one file per case and modality and, for labeled
cases, one label file. File names come from templates in which ``{}`` stands
for the case id (it may also appear in the folder, for one folder per case):

* nnU-Net raw: ``images_dir='imagesTr'``, ``modalities=('_0000', '_0001')``,
  ``labels_dir='labelsTr'``, ``label_suffix=''`` ->
  ``imagesTr/<id>_0000.nii.gz`` and ``labelsTr/<id>.nii.gz``;
* Decathlon: as above with ``modalities=('',)``;
* BraTS: ``images_dir='{}'``, ``modalities=('_flair', '_t1')``,
  ``labels_dir='{}'``, ``label_suffix='_seg'``.

Case ids are found from the files of the FIRST modality. A case without a
label file joins the unlabeled pool (``label`` null in the manifest). Every
case is read and validated before anything is written: the modalities of a
case share their shape and affine (within ``affine_tol``), the label has the
image's shape, is integer-valued and lies in ``range(num_classes)``, and an
image holds no NaN/Inf. Every error names the file.

The manifest (``manifest.json`` + ``manifest.csv``) follows the format
``fdpl-manifest/1``::

    {"format": "fdpl-manifest/1", "root": "<abs source folder>",
     "modalities": ["_0000", ...],
     "cases": [{"id": str, "images": [relpath, ...], "label": relpath | null,
                "spacing": [d, h, w], "shape": [D, H, W],
                "sha256": {"<relpath>": "<hex>"}}]}

Spacing and shape are in fdpl's ``(d, h, w)`` order, i.e. nibabel's
``(x, y, z)`` reversed. With an HDF5 output folder each case is also written
to ``<h5_out>/data/<id>.h5`` in the field's stored ``(W, H, D)`` = nibabel
``(x, y, z)`` order: ``image`` float32 ``(X, Y, Z)`` for one modality or
``(C, X, Y, Z)`` for several (channels first, as ``LoadH5Volume`` reads a
4-D image), ``label`` uint8 ``(X, Y, Z)`` for labeled cases, attributes
``spacing`` (stored order), ``affine`` (moved to the crop origin), ``bbox``
(half-open crop box in source voxels ``(x0, y0, z0, x1, y1, z1)``),
``case_id``, ``modalities`` and ``source``; plus the id lists ``all.list``,
``labeled.list`` and ``unlabeled.list``. An optional crop to the non-zero
voxels of the image (all modalities together, plus a margin) never reads the
label. Intensities are stored as read (the training pipeline normalises).
"""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import h5py
import nibabel as nib
import numpy as np

from .._json_records import read_json_record
from .._templates import fill_template, ids_matching, path_template
from ..splits import file_sha256
from ._checks import integer_label
from .brats import nonzero_bbox

__all__ = [
    'MANIFEST_FORMAT', 'CSV_COLUMNS', 'find_cases', 'sha256_file', 'load_case', 'case_record',
    'nonzero_crop_box', 'write_case_h5', 'write_manifest', 'read_manifest',
    'convert_nifti_folder'
]

#: Value of the ``format`` key of a manifest.
MANIFEST_FORMAT = 'fdpl-manifest/1'
#: Columns of ``manifest.csv``.
CSV_COLUMNS = ('id', 'images', 'label', 'spacing_d', 'spacing_h', 'spacing_w', 'shape_d',
               'shape_h', 'shape_w', 'sha256')
_CASE_KEYS = ('id', 'images', 'label', 'spacing', 'shape', 'sha256')
_CROPS = (None, 'none', 'nonzero')


def find_cases(root: str,
               images_dir: str = 'imagesTr',
               labels_dir: Optional[str] = 'labelsTr',
               modalities: Sequence[str] = ('_0000', ),
               label_suffix: str = '',
               suffix: str = '.nii.gz') -> List[Dict]:
    """List the cases of a NIfTI folder (no file is read).

    Args:
        root (str): Source folder.
        images_dir (str): Image folder relative to ``root``; may contain
            ``{}`` (the id) for one folder per case. Defaults to
            ``'imagesTr'``.
        labels_dir (str, optional): Label folder, same rules; None means no
            case has a label. Defaults to ``'labelsTr'``.
        modalities (Sequence[str]): File-name suffixes of the image files,
            one per channel, in channel order (``''`` for a single file named
            ``<id><suffix>``). Defaults to ``('_0000',)``.
        label_suffix (str): File-name suffix of the label. Defaults to ``''``.
        suffix (str): File extension. Defaults to ``'.nii.gz'``.

    Returns:
        list[dict]: ``{'id', 'images': [relpath, ...], 'label': relpath |
        None}`` per case, sorted by id; paths relative to ``root`` with
        ``/`` separators.

    Raises:
        FileNotFoundError: ``root`` is missing, no file matches the first
            modality, or a case lacks the file of another modality (named).
        ValueError: Bad options, or a label file has no image (named).
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'NIfTI source folder {root!r} does not exist.')
    if isinstance(modalities, str):
        modalities = (modalities, )
    modalities = tuple(modalities)
    if not modalities:
        raise ValueError('modalities must name at least one image file suffix.')
    if len(set(modalities)) != len(modalities):
        raise ValueError(f'modalities {modalities} repeat a suffix.')
    if not suffix:
        raise ValueError("suffix (the file extension, e.g. '.nii.gz') must not be empty.")
    img_templates = [path_template(images_dir, m, suffix) for m in modalities]
    lab_template = None if labels_dir is None else path_template(labels_dir, label_suffix, suffix)
    if lab_template is not None and lab_template in img_templates:
        raise ValueError(f'the label file template {lab_template!r} equals an image file '
                         'template; set labels_dir / label_suffix so that labels are told apart '
                         'from images.')
    images = ids_matching(root, img_templates[0])
    if not images:
        raise FileNotFoundError(
            f'no image file matches {osp.join(root, img_templates[0])!r} (options images_dir, '
            'modalities, suffix); e.g. nnU-Net: imagesTr/<id>_0000.nii.gz, Decathlon: '
            "imagesTr/<id>.nii.gz with modalities ('',).")
    labels = ids_matching(root, lab_template) if lab_template is not None else {}
    orphans = sorted(set(labels) - set(images))
    if orphans:
        shown = [osp.join(root, labels[i]) for i in orphans[:10]]
        raise ValueError(f'{len(orphans)} label file(s) have no image file '
                         f'{img_templates[0]!r}: {shown}')
    cases, missing = [], []
    for case_id in sorted(images):
        rels = [fill_template(t, case_id).replace(os.sep, '/') for t in img_templates]
        missing += [osp.join(root, r) for r in rels if not osp.isfile(osp.join(root, r))]
        cases.append(dict(id=case_id, images=rels, label=labels.get(case_id)))
    if missing:
        more = f' (and {len(missing) - 10} more)' if len(missing) > 10 else ''
        raise FileNotFoundError(f'{len(missing)} image file(s) of other modalities are missing: '
                                f'{missing[:10]}{more}')
    return cases


def sha256_file(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (as :func:`fdpl.datasets.splits.file_sha256`)."""
    return file_sha256(path, chunk_size)


def _read(path: str) -> Tuple[np.ndarray, nib.Nifti1Image]:
    """Voxel data ``(X, Y, Z)`` and the image of a 3-D NIfTI file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'NIfTI file {path!r} does not exist.')
    try:
        nii = nib.load(path)
        data = np.asarray(nii.dataobj)
    except Exception as e:  # nibabel raises several unrelated types
        raise ValueError(f'cannot read NIfTI file {path!r} (truncated or corrupt?): {e}') from e
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f'{path!r} must hold a 3-D volume (x, y, z), got shape {data.shape}; '
                         'give one file per modality.')
    return data, nii


def _check_label(label: np.ndarray, path: str, num_classes: int,
                 round_labels: bool) -> np.ndarray:
    """Integer-valued label in ``range(num_classes)`` -> uint8 ``(X, Y, Z)``."""
    label = integer_label(label, path, round_labels)
    if label.size and (label.min() < 0 or label.max() >= num_classes):
        values = np.unique(label)
        bad = values[(values < 0) | (values >= num_classes)]
        raise ValueError(f'label {path!r} holds values {bad[:10].tolist()} outside '
                         f'range(num_classes={num_classes}); set num_classes (CLI: '
                         '--num-classes) to the number of classes, background included.')
    return label.astype(np.uint8)


def load_case(root: str,
              images: Sequence[str],
              label: Optional[str] = None,
              num_classes: int = 2,
              round_labels: bool = False,
              affine_tol: Optional[float] = 1e-3) -> Dict:
    """Read and validate one case.

    Args:
        root (str): Source folder.
        images (Sequence[str]): Image files relative to ``root``, one per
            modality.
        label (str, optional): Label file relative to ``root``.
        num_classes (int): Label values must lie in ``range(num_classes)``.
            Defaults to 2.
        round_labels (bool): Round a non-integer label map (negative values
            clipped to 0) instead of refusing it. Defaults to False.
        affine_tol (float, optional): Largest absolute difference allowed
            between the affine of the first image and that of another
            modality or of the label; None skips the check. Defaults to 1e-3.

    Returns:
        dict: ``image`` float32 ``(C, X, Y, Z)``, ``label`` uint8
        ``(X, Y, Z)`` or None, ``affine`` float64 ``(4, 4)`` (first image),
        ``zooms`` ``(x, y, z)`` mm.

    Raises:
        FileNotFoundError: A file is missing.
        ValueError: Unreadable file, NaN/Inf in an image, shapes or affines
            that disagree, or a bad label; the message names the file.
    """
    if not images:
        raise ValueError('a case needs at least one image file.')
    channels, ref_path, ref_nii = [], None, None
    for rel in images:
        path = osp.join(root, rel)
        data, nii = _read(path)
        if not np.issubdtype(data.dtype, np.number) and data.dtype != bool:
            raise ValueError(f'image {path!r} has non-numeric dtype {data.dtype}.')
        data = data.astype(np.float32)
        finite = np.isfinite(data)
        if not finite.all():
            raise ValueError(f'image {path!r} contains {int(data.size - finite.sum())} NaN/Inf '
                             'values.')
        if ref_nii is None:
            ref_path, ref_nii = path, nii
        else:
            if data.shape != channels[0].shape:
                raise ValueError(f'image {path!r} has shape {data.shape} (x, y, z), but '
                                 f'{ref_path!r} of the same case has {channels[0].shape}.')
            _check_affine(nii, path, ref_nii, ref_path, affine_tol)
        channels.append(data)
    lab = None
    if label is not None:
        path = osp.join(root, label)
        raw, nii = _read(path)
        if raw.shape != channels[0].shape:
            raise ValueError(f'label {path!r} has shape {raw.shape} (x, y, z), but the image '
                             f'{ref_path!r} has {channels[0].shape}.')
        _check_affine(nii, path, ref_nii, ref_path, affine_tol)
        lab = _check_label(raw, path, num_classes, round_labels)
    zooms = tuple(float(z) for z in ref_nii.header.get_zooms()[:3])
    if any(not z > 0 for z in zooms):
        raise ValueError(f'image {ref_path!r} has voxel sizes {zooms} in its header; expected '
                         'positive values.')
    return dict(image=np.stack(channels), label=lab,
                affine=np.asarray(ref_nii.affine, dtype=np.float64), zooms=zooms)


def _check_affine(nii, path: str, ref_nii, ref_path: str, tol: Optional[float]) -> None:
    if tol is None:
        return
    a, b = np.asarray(nii.affine, np.float64), np.asarray(ref_nii.affine, np.float64)
    diff = float(np.abs(a - b).max())
    if diff > tol:
        raise ValueError(f'{path!r} has an affine that differs from the one of {ref_path!r} by '
                         f'up to {diff:.4g} (> affine_tol={tol}); the files of a case must share '
                         f'their voxel grid.\n{path}:\n{a}\n{ref_path}:\n{b}')


def case_record(root: str, case: Dict, loaded: Dict) -> Dict:
    """The manifest row of one case.

    Args:
        root (str): Source folder.
        case (dict): ``{'id', 'images', 'label'}`` from :func:`find_cases`.
        loaded (dict): The output of :func:`load_case` for that case.

    Returns:
        dict: ``id``, ``images``, ``label``, ``spacing`` ``[d, h, w]``,
        ``shape`` ``[D, H, W]`` and ``sha256`` (relative path -> hex).
    """
    files = list(case['images']) + ([case['label']] if case['label'] is not None else [])
    return dict(id=case['id'], images=list(case['images']), label=case['label'],
                spacing=[round(float(z), 6) for z in loaded['zooms'][::-1]],
                shape=[int(s) for s in loaded['image'].shape[1:][::-1]],
                sha256={rel: sha256_file(osp.join(root, rel)) for rel in files})


def nonzero_crop_box(image: np.ndarray, margin: Union[int, Sequence[int]] = 0) -> Tuple[int, ...]:
    """Box of the image's non-zero voxels (any channel), widened by a margin.

    Args:
        image (np.ndarray): ``(C, X, Y, Z)`` (or ``(X, Y, Z)``).
        margin (int | Sequence[int]): Voxels added on each side, one value
            or one per axis; the box is clipped to the volume.

    Returns:
        tuple[int, ...]: Half-open ``(x0, y0, z0, x1, y1, z1)``.

    Raises:
        ValueError: The image has no non-zero voxel, or a negative margin.
    """
    image = np.asarray(image)
    mask = np.any(image != 0, axis=0) if image.ndim == 4 else image != 0
    margin = (margin, ) * 3 if isinstance(margin, (int, np.integer)) else tuple(margin)
    if len(margin) != 3 or any(int(m) < 0 for m in margin):
        raise ValueError(f'margin must be an int >= 0 or three of them, got {margin}.')
    box = nonzero_bbox(mask)
    lo = tuple(max(0, box[i] - int(margin[i])) for i in range(3))
    hi = tuple(min(mask.shape[i], box[i + 3] + int(margin[i])) for i in range(3))
    return lo + hi


def write_case_h5(path: str,
                  image: np.ndarray,
                  label: Optional[np.ndarray],
                  zooms: Sequence[float],
                  affine: np.ndarray,
                  bbox: Sequence[int],
                  case_id: str = '',
                  modalities: Sequence[str] = (),
                  sources: Sequence[str] = ()) -> None:
    """Write one case in the HDF5 layout that ``H5SegDataset`` reads.

    Args:
        path (str): Output file (folders are created).
        image (np.ndarray): ``(C, X, Y, Z)``; stored 3-D when ``C == 1``.
        label (np.ndarray, optional): uint8 ``(X, Y, Z)``.
        zooms (Sequence[float]): Voxel size ``(x, y, z)`` mm.
        affine (np.ndarray): ``(4, 4)`` voxel-to-world matrix of ``image``.
        bbox (Sequence[int]): Crop box in source voxels.
        case_id (str): Stored as an attribute.
        modalities (Sequence[str]): Stored as an attribute.
        sources (Sequence[str]): Source files, stored as an attribute.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    stored = image[0] if image.shape[0] == 1 else image
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=stored.astype(np.float32), compression='gzip',
                         track_times=False)
        if label is not None:
            f.create_dataset('label', data=label.astype(np.uint8), compression='gzip',
                             track_times=False)
        f.attrs['spacing'] = np.asarray(zooms, dtype=np.float64)
        f.attrs['affine'] = np.asarray(affine, dtype=np.float64)
        f.attrs['bbox'] = np.asarray(bbox, dtype=np.int64)
        f.attrs['case_id'] = case_id
        f.attrs['modalities'] = json.dumps(list(modalities))
        f.attrs['source'] = json.dumps(list(sources))


def write_manifest(manifest: Dict, out_dir: str) -> Tuple[str, str]:
    """Write ``manifest.json`` and ``manifest.csv`` into ``out_dir``.

    Returns:
        tuple[str, str]: The two paths.
    """
    os.makedirs(out_dir, exist_ok=True)
    json_path = osp.join(out_dir, 'manifest.json')
    csv_path = osp.join(out_dir, 'manifest.csv')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    with open(csv_path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for c in manifest['cases']:
            files = c['images'] + ([c['label']] if c['label'] is not None else [])
            writer.writerow([c['id'], ';'.join(c['images']), c['label'] or ''] +
                            list(c['spacing']) + list(c['shape']) +
                            [';'.join(c['sha256'][p] for p in files)])
    return json_path, csv_path


def read_manifest(path: str) -> Dict:
    """Read and check a manifest (format ``fdpl-manifest/1``).

    Args:
        path (str): ``manifest.json``.

    Returns:
        dict: The manifest as stored.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Not JSON, wrong format, a case without the required
            keys, a number of images that differs from the modalities, or a
            repeated id; the message names the file.
    """
    manifest = read_json_record(path, 'manifest', MANIFEST_FORMAT,
                                'tools/convert_nifti_folder.py')
    for key, kind in (('root', str), ('modalities', list), ('cases', list)):
        if not isinstance(manifest.get(key), kind):
            raise ValueError(f'manifest {path!r}: key {key!r} must be a {kind.__name__}.')
    num_mod = len(manifest['modalities'])
    seen = set()
    for i, case in enumerate(manifest['cases']):
        absent = [k for k in _CASE_KEYS if not isinstance(case, dict) or k not in case]
        if absent:
            raise ValueError(f'manifest {path!r}: case #{i} lacks the key(s) {absent}.')
        if len(case['images']) != num_mod:
            raise ValueError(f"manifest {path!r}: case {case['id']!r} has "
                             f"{len(case['images'])} image(s) for {num_mod} modalities.")
        if case['id'] in seen:
            raise ValueError(f"manifest {path!r}: case id {case['id']!r} appears twice.")
        seen.add(case['id'])
    if not manifest['cases']:
        raise ValueError(f'manifest {path!r} holds no case.')
    return manifest


def convert_nifti_folder(src_root: str,
                         out_dir: str,
                         images_dir: str = 'imagesTr',
                         labels_dir: Optional[str] = 'labelsTr',
                         modalities: Sequence[str] = ('_0000', ),
                         label_suffix: str = '',
                         suffix: str = '.nii.gz',
                         num_classes: int = 2,
                         round_labels: bool = False,
                         affine_tol: Optional[float] = 1e-3,
                         require_labels: Optional[Sequence[str]] = None,
                         h5_out: Optional[str] = None,
                         crop: Optional[str] = None,
                         margin: Union[int, Sequence[int]] = 0) -> Dict:
    """Validate a NIfTI folder and write its manifest (and HDF5 files).

    Every case is read and checked before anything is written.

    Args:
        src_root (str): Source folder.
        out_dir (str): Folder of ``manifest.json`` and ``manifest.csv``.
        images_dir, labels_dir, modalities, label_suffix, suffix: See
            :func:`find_cases`.
        num_classes, round_labels, affine_tol: See :func:`load_case`.
        require_labels (Sequence[str], optional): Ids that must have a label
            (e.g. the labeled, val and test parts of an existing split).
        h5_out (str, optional): Also write ``<h5_out>/data/<id>.h5`` and the
            lists ``all.list``, ``labeled.list``, ``unlabeled.list``.
        crop (str, optional): ``'nonzero'`` crops the HDF5 volumes to the
            non-zero voxels of the image (never the label) plus ``margin``;
            None or ``'none'`` keeps them whole. The manifest always
            describes the source files.
        margin (int | Sequence[int]): Crop margin in voxels, ``(x, y, z)``.

    Returns:
        dict: The manifest.

    Raises:
        FileNotFoundError: Missing folder or files.
        ValueError: A case fails validation (the message names the file),
            a required label is missing, or bad options.
    """
    if crop not in _CROPS:
        raise ValueError(f'crop must be one of {_CROPS}, got {crop!r}.')
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f'num_classes must be an int >= 2, got {num_classes!r}.')
    if isinstance(modalities, str):
        modalities = (modalities, )
    root = osp.abspath(src_root)
    cases = find_cases(root, images_dir, labels_dir, modalities, label_suffix, suffix)
    if require_labels is not None:
        by_id = {c['id']: c for c in cases}
        unknown = [i for i in require_labels if i not in by_id]
        if unknown:
            raise ValueError(f'ids that must have a label are not cases of {root!r}: '
                             f'{unknown[:10]}')
        lab_tmpl = path_template(labels_dir or '', label_suffix, suffix)
        unlabeled = [i for i in require_labels if by_id[i]['label'] is None]
        if unlabeled:
            expected = [osp.join(root, fill_template(lab_tmpl, i)) for i in unlabeled[:10]]
            raise ValueError(f'{len(unlabeled)} case(s) that must be labeled have no label '
                             f'file: {unlabeled[:10]}; expected {expected}.')
    records = []
    for case in cases:
        loaded = load_case(root, case['images'], case['label'], num_classes, round_labels,
                           affine_tol)
        if crop == 'nonzero':  # fail on an all-zero image before writing anything
            try:
                nonzero_crop_box(loaded['image'], margin)
            except ValueError as e:
                raise ValueError(f"{osp.join(root, case['images'][0])!r}: {e}") from e
        records.append(case_record(root, case, loaded))
    manifest = dict(format=MANIFEST_FORMAT, root=root, modalities=list(modalities),
                    cases=records)
    if h5_out is not None:
        for case in cases:
            loaded = load_case(root, case['images'], case['label'], num_classes, round_labels,
                               affine_tol)
            _write_h5_case(root, case, loaded, h5_out, crop, margin, modalities)
        lists = dict(all=[c['id'] for c in cases],
                     labeled=[c['id'] for c in cases if c['label'] is not None],
                     unlabeled=[c['id'] for c in cases if c['label'] is None])
        for name, ids in lists.items():
            with open(osp.join(h5_out, f'{name}.list'), 'w', encoding='utf-8') as f:
                f.write(''.join(i + '\n' for i in ids))
    write_manifest(manifest, out_dir)
    return manifest


def _write_h5_case(root: str, case: Dict, loaded: Dict, h5_out: str, crop: Optional[str],
                   margin, modalities: Sequence[str]) -> None:
    image, label, affine = loaded['image'], loaded['label'], loaded['affine'].copy()
    if crop == 'nonzero':
        box = nonzero_crop_box(image, margin)  # the label is never looked at
    else:
        box = (0, 0, 0) + tuple(image.shape[1:])
    sl = tuple(slice(box[i], box[i + 3]) for i in range(3))
    image = image[(slice(None), ) + sl]
    label = None if label is None else label[sl]
    affine[:3, 3] = affine[:3, :3] @ np.asarray(box[:3], dtype=np.float64) + affine[:3, 3]
    write_case_h5(osp.join(h5_out, 'data', f"{case['id']}.h5"), image, label, loaded['zooms'],
                  affine, box, case['id'], modalities,
                  [osp.join(root, p) for p in case['images']])
