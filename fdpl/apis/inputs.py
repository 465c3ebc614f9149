"""Cases to segment: what the inferencer accepts, expanded and checked before inference.

An input is

* a NIfTI file (``.nii`` / ``.nii.gz``; 3-D, or 4-D ``(x, y, z, c)`` for
  ``c`` channels);
* an HDF5 file (``.h5`` / ``.hdf5``) of the field's layout (dataset
  ``image``, stored ``(W, H, D)`` or ``(C, W, H, D)``, optional attributes
  ``spacing``, ``affine`` and ``case_id``, as written by
  ``tools/convert_nifti_folder.py --h5-out``);
* a folder of such files (or, if it holds none, of one folder per case);
* a manifest (``manifest.json`` of ``tools/convert_nifti_folder.py``);
* an array ``(C, D, H, W)`` (or ``(D, H, W)`` for one channel), or a dict
  ``{'img': array, 'spacing': (d, h, w), 'affine': (4, 4), 'case_id': str}``.

Several modalities per case are named by file-name suffixes as in
``tools/convert_nifti_folder.py``: with ``modalities=('_flair', '_t1')`` a
folder yields one case per ``<id>_flair.nii.gz`` with its ``<id>_t1.nii.gz``,
and a file given directly brings its sibling modalities along.

:func:`collect_cases` turns inputs into cases (``id``, ``kind``, ``paths``
or ``array``); :func:`check_cases` reads every case once and refuses, naming
the file, a missing or unreadable file, an image that is not 3-D, a number
of channels other than the model's, modalities of different shapes and
NaN/Inf voxels. Both run before any inference.
"""
import os
import os.path as osp
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['NIFTI_SUFFIXES', 'H5_SUFFIXES', 'collect_cases', 'check_cases']

NIFTI_SUFFIXES = ('.nii.gz', '.nii')
H5_SUFFIXES = ('.h5', '.hdf5')
_MANIFEST_SUFFIX = '.json'

Input = Union[str, os.PathLike, np.ndarray, Dict[str, Any]]


def _kind(path: str) -> Optional[str]:
    name = path.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return 'nifti'
    if name.endswith(H5_SUFFIXES):
        return 'h5'
    return None


def _stem(path: str) -> str:
    name = osp.basename(path)
    for suffix in NIFTI_SUFFIXES + H5_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def _file_case(path: str, modalities: Optional[Sequence[str]], suffix: str) -> Dict[str, Any]:
    """One case from one file (and its sibling modalities)."""
    kind = _kind(path)
    if kind is None:
        raise ValueError(f'input {path!r} is neither a NIfTI file ({", ".join(NIFTI_SUFFIXES)}), '
                         f'an HDF5 file ({", ".join(H5_SUFFIXES)}), a folder nor a manifest '
                         f'({_MANIFEST_SUFFIX})')
    if not modalities or kind == 'h5':
        return dict(id=_stem(path), kind=kind, paths=[path])
    folder, name = osp.split(path)
    match = [m for m in modalities if name.endswith(m + suffix)]
    if not match:
        wanted = [f'<id>{m}{suffix}' for m in modalities]
        raise ValueError(f'input {path!r} matches none of the modality file names {wanted} '
                         '(options --modalities / --suffix)')
    stem = name[:len(name) - len(max(match, key=len) + suffix)]
    paths = [osp.join(folder, stem + m + suffix) for m in modalities]
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'case {stem!r} of {path!r} lacks the modality file(s) {missing}')
    return dict(id=stem, kind=kind, paths=paths)


def _folder_cases(folder: str, modalities: Optional[Sequence[str]], images_dir: str,
                  suffix: str) -> List[Dict[str, Any]]:
    """Cases of a folder, sorted by id."""
    if modalities:
        from fdpl.datasets.converters.nifti_folder import find_cases
        kind = _kind('x' + suffix) or 'nifti'
        return [dict(id=c['id'], kind=kind, paths=[osp.join(folder, p) for p in c['images']])
                for c in find_cases(folder, images_dir, None, modalities, '', suffix)]

    def files(where: str) -> List[str]:
        return sorted(osp.join(where, n) for n in os.listdir(where)
                      if not n.startswith('.') and _kind(n) and osp.isfile(osp.join(where, n)))

    found = files(folder)
    if not found:  # one folder per case, e.g. LA's <id>/mri_norm2.h5
        for sub in sorted(os.listdir(folder)):
            if not sub.startswith('.') and osp.isdir(osp.join(folder, sub)):
                found += files(osp.join(folder, sub))
    if not found:
        raise FileNotFoundError(f'folder {folder!r} holds no NIfTI or HDF5 file, neither '
                                'directly nor one folder down; for several modalities per case '
                                'give --modalities (and --images-dir)')
    return [_file_case(p, None, suffix) for p in found]


def _manifest_cases(path: str) -> List[Dict[str, Any]]:
    from fdpl.datasets.converters.nifti_folder import read_manifest
    manifest = read_manifest(path)
    root = manifest['root']
    return [dict(id=c['id'], kind=_kind(c['images'][0]) or 'nifti',
                 paths=[osp.join(root, p) for p in c['images']]) for c in manifest['cases']]


def _array_case(item: Union[np.ndarray, Dict[str, Any]], index: int) -> Dict[str, Any]:
    if isinstance(item, dict):
        if 'img' not in item:
            raise KeyError(f"input #{index} is a dict without 'img'; expected {{'img': array "
                           "(C, D, H, W), 'spacing': (d, h, w), 'affine': (4, 4), 'case_id'}")
        array, spacing, affine = item['img'], item.get('spacing'), item.get('affine')
        case_id = str(item.get('case_id', f'array_{index}'))
    else:
        array, spacing, affine, case_id = item, None, None, f'array_{index}'
    if hasattr(array, 'detach'):
        array = array.detach().cpu().numpy()
    return dict(id=case_id, kind='array', paths=[], array=np.asarray(array),
                spacing=None if spacing is None else tuple(float(s) for s in spacing),
                affine=None if affine is None else np.asarray(affine, dtype=np.float64))


def _unique_ids(cases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Make case ids unique: colliding file stems take their folder's name."""
    groups = defaultdict(list)
    for case in cases:
        groups[case['id']].append(case)
    for case_id, same in groups.items():
        if len(same) < 2:
            continue
        parents = [osp.basename(osp.dirname(c['paths'][0])) if c['paths'] else '' for c in same]
        if all(parents) and len(set(parents)) == len(parents):
            for case, parent in zip(same, parents):
                case['id'] = parent
    ids = defaultdict(list)
    for case in cases:
        ids[case['id']].append(case['paths'][0] if case['paths'] else '<array>')
    clashes = {k: v for k, v in ids.items() if len(v) > 1}
    if clashes:
        case_id, paths = next(iter(clashes.items()))
        raise ValueError(f'inputs {paths} all give the case id {case_id!r}; their outputs would '
                         'overwrite each other: give each case once, or rename the files')
    return cases


def collect_cases(inputs: Union[Input, Sequence[Input]],
                  modalities: Optional[Sequence[str]] = None,
                  images_dir: str = '',
                  suffix: str = '.nii.gz') -> List[Dict[str, Any]]:
    """Expand inputs into cases (no image data is read).

    Args:
        inputs: One input or a list of them (see the module docstring).
        modalities (Sequence[str], optional): File-name suffixes of the
            image files of a case, one per channel, in channel order (as
            ``tools/convert_nifti_folder.py --modalities``). None: every
            file is a case.
        images_dir (str): Image folder inside an input folder when
            ``modalities`` are given; ``'{}'`` stands for the case id (one
            folder per case). Defaults to ``''`` (the folder itself).
        suffix (str): File extension of modality files. Defaults to
            ``'.nii.gz'``.

    Returns:
        list[dict]: One dict per case, in input order (folders sorted by
        id): ``id`` (a file's name without extension and modality suffix;
        files of equal names take their folder's name; an HDF5 file's
        ``case_id`` attribute is read later by :func:`check_cases`),
        ``kind`` ('nifti', 'h5' or 'array'), ``paths`` (absolute, channel
        order) and, for arrays, ``array``, ``spacing`` and ``affine``.

    Raises:
        FileNotFoundError: A path that does not exist, a folder without
            images, a missing modality file (named).
        ValueError: A file of an unknown type, case ids that collide.
    """
    if isinstance(modalities, str):
        modalities = (modalities, )
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not items:
        raise ValueError('no input given; expected NIfTI / HDF5 files, folders, manifests or '
                         'arrays')
    cases: List[Dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, (np.ndarray, dict)) or hasattr(item, 'detach'):
            cases.append(_array_case(item, index))
            continue
        path = osp.abspath(osp.expanduser(os.fspath(item)))
        if osp.isdir(path):
            cases += _folder_cases(path, modalities, images_dir, suffix)
        elif not osp.exists(path):
            raise FileNotFoundError(f'input {os.fspath(item)!r} does not exist')
        elif path.lower().endswith(_MANIFEST_SUFFIX):
            cases += _manifest_cases(path)
        else:
            cases.append(_file_case(path, modalities, suffix))
    return _unique_ids(cases)


def _read_nifti(path: str) -> Tuple[np.ndarray, Any]:
    import nibabel as nib
    if not osp.isfile(path):
        raise FileNotFoundError(f'NIfTI file {path!r} does not exist')
    try:
        nii = nib.load(path)
        data = np.asarray(nii.dataobj)
    except Exception as error:  # nibabel raises several unrelated types
        raise ValueError(f'cannot read NIfTI file {path!r} (truncated or corrupt?): '
                         f'{error}') from error
    if data.ndim not in (3, 4):
        raise ValueError(f'NIfTI file {path!r} holds an image of shape {data.shape}; expected a '
                         '3-D volume (x, y, z) or 4-D (x, y, z, c) with channels last')
    return data, nii


def _read_h5(path: str, key: str) -> Tuple[np.ndarray, Dict[str, Any]]:
    import h5py
    if not osp.isfile(path):
        raise FileNotFoundError(f'HDF5 file {path!r} does not exist')
    try:
        with h5py.File(path, 'r') as f:
            if key not in f:
                raise KeyError(f'HDF5 file {path!r} has no dataset {key!r}; it holds '
                               f'{sorted(f.keys())}')
            data = np.asarray(f[key][()])
            attrs = {k: f.attrs[k] for k in f.attrs}
    except OSError as error:
        raise ValueError(f'cannot read HDF5 file {path!r} (truncated or corrupt?): '
                         f'{error}') from error
    if data.ndim not in (3, 4):
        raise ValueError(f'HDF5 file {path!r}: image {key!r} has shape {data.shape}; expected a '
                         '3-D volume or 4-D with channels first')
    return data, attrs


def _check_finite(data: np.ndarray, where: str) -> None:
    if not np.issubdtype(data.dtype, np.number) and data.dtype != bool:
        raise ValueError(f'{where} has non-numeric dtype {data.dtype}')
    if np.issubdtype(data.dtype, np.floating):
        finite = np.isfinite(data)
        if not finite.all():
            raise ValueError(f'{where} contains {int(data.size - finite.sum())} NaN/Inf voxels')


def _check_channels(num: int, expected: Optional[int], where: str) -> None:
    if expected is not None and num != expected:
        raise ValueError(f'{where} gives {num} channel(s), the model expects {expected}: give '
                         'one image file per modality, named by --modalities (e.g. _flair _t1 '
                         '_t1ce _t2), in the order the model was trained with')


def check_cases(cases: List[Dict[str, Any]],
                in_channels: Optional[int] = None,
                h5_key: str = 'image',
                h5_axis_order: str = 'WHD') -> List[Dict[str, Any]]:
    """Read every case once and check it before inference.

    Adds to each case: ``shape`` (``(D, H, W)``), ``channels``, ``spacing``
    (``(d, h, w)`` mm from the NIfTI header or the HDF5 ``spacing``
    attribute; None when the source states none) and ``axis_order`` (the
    stored order of the source's axes: ``'WHD'`` for NIfTI); an HDF5 file's
    ``case_id`` attribute replaces the file-name id when the ids stay
    unique.

    Args:
        cases (list[dict]): From :func:`collect_cases`.
        in_channels (int, optional): Channels the model expects.
        h5_key (str): Image dataset of HDF5 files. Defaults to ``'image'``.
        h5_axis_order (str): Stored axis order of HDF5 images. Defaults to
            ``'WHD'``.

    Returns:
        list[dict]: ``cases``, completed.

    Raises:
        FileNotFoundError: A file is missing.
        ValueError: Unreadable file, not a 3-D image, wrong channel count,
            modalities of different shapes, NaN/Inf voxels; the message
            names the file.
    """
    for case in cases:
        if case['kind'] == 'array':
            _check_array_case(case, in_channels)
        elif case['kind'] == 'h5':
            _check_h5_case(case, in_channels, h5_key, h5_axis_order)
        else:
            _check_nifti_case(case, in_channels)
    if len({c['id'] for c in cases}) != len(cases):  # an h5 case_id attribute collided
        for case in cases:
            case['id'] = case.pop('file_id', case['id'])
    for case in cases:
        case.pop('file_id', None)
    return cases


def _check_nifti_case(case: Dict[str, Any], in_channels: Optional[int]) -> None:
    shape, channels, first = None, 0, None
    for path in case['paths']:
        data, nii = _read_nifti(path)
        _check_finite(data, f'image {path!r}')
        xyz = data.shape[:3]
        if shape is None:
            shape, first = xyz, (path, nii)
        elif xyz != shape:
            raise ValueError(f'image {path!r} has shape {xyz} (x, y, z), but {first[0]!r} of '
                             f'the same case has {shape}; the modalities of a case must share '
                             'their voxel grid')
        channels += 1 if data.ndim == 3 else data.shape[3]
    _check_channels(channels, in_channels, f'case {case["id"]!r} ({case["paths"][0]!r})')
    zooms = tuple(float(z) for z in first[1].header.get_zooms()[:3])
    case.update(shape=tuple(int(s) for s in shape[::-1]), channels=channels,
                spacing=zooms[::-1] if all(z > 0 for z in zooms) else None, axis_order='WHD')


def _check_h5_case(case: Dict[str, Any], in_channels: Optional[int], key: str,
                   axis_order: str) -> None:
    path = case['paths'][0]
    data, attrs = _read_h5(path, key)
    _check_finite(data, f'image {key!r} of {path!r}')
    channels = 1 if data.ndim == 3 else data.shape[0]
    _check_channels(channels, in_channels, f'HDF5 file {path!r}')
    stored = data.shape[-3:]
    order = axis_order.upper()
    shape = tuple(int(stored[order.index(c)]) for c in 'DHW')
    spacing = attrs.get('spacing')
    if spacing is not None:
        spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
        spacing = (tuple(float(spacing[order.index(c)]) for c in 'DHW')
                   if spacing.size == 3 and (spacing > 0).all() else None)
    case_id = attrs.get('case_id')
    if isinstance(case_id, bytes):
        case_id = case_id.decode()
    if isinstance(case_id, str) and case_id:
        case['file_id'], case['id'] = case['id'], case_id
    case.update(shape=shape, channels=channels, spacing=spacing, axis_order=order)


def _check_array_case(case: Dict[str, Any], in_channels: Optional[int]) -> None:
    array = case['array']
    if array.ndim == 3:
        array = case['array'] = array[None]
    if array.ndim != 4:
        raise ValueError(f'array input {case["id"]!r} has shape {array.shape}; expected '
                         '(C, D, H, W) (or (D, H, W) for one channel)')
    _check_finite(array, f'array input {case["id"]!r}')
    _check_channels(array.shape[0], in_channels, f'array input {case["id"]!r}')
    # written like a NIfTI: (W, H, D) = (x, y, z), so fdpl reads it back as (D, H, W)
    case.update(shape=tuple(int(s) for s in array.shape[1:]), channels=int(array.shape[0]),
                axis_order='WHD')
