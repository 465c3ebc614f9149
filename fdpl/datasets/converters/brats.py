"""BraTS NIfTI cases -> one HDF5 file per case, the SSL4MIS way (docs PROTOCOL.md 1.3).

Per case:

1. read the image modality (``<case>_<modality>.nii.gz``, e.g. ``flair``;
   the BraTS sample names t1ce ``t1post``) and the label
   (``<case>_<label_suffix>.nii.gz``);
2. crop to the bounding box of the image's non-zero voxels (the brain); the
   label never influences the crop;
3. clip intensities above the 99.9th percentile of the cropped image;
4. z-score with the mean and std of the voxels > 0 (background included in
   the output, at ``-mean / std``; no random fill);
5. label > 0 -> 1 (whole tumour).

Output arrays keep nibabel's ``(x, y, z)`` order, i.e. the field's stored
``(W, H, D)`` order (``LoadH5Volume(axis_order='WHD')`` reads them, its
default). Attributes: ``spacing`` (voxel size in the stored order,
``(x, y, z)`` mm), ``affine`` (the source affine moved to the crop origin),
``bbox`` (half-open crop box in source voxels, ``(x0, y0, z0, x1, y1, z1)``),
``modality`` and ``source``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import h5py
import nibabel as nib
import numpy as np
from mmengine.logging import MMLogger

from ._checks import integer_label

_EXTS = ('.nii.gz', '.nii')
_BRATS_LABELS = (0, 1, 2, 3, 4)


def _find(case_dir: str, case: str, suffix: str) -> str:
    for ext in _EXTS:
        path = osp.join(case_dir, f'{case}_{suffix}{ext}')
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'{case_dir!r} has no {case}_{suffix}.nii.gz (or .nii); check the '
                            'modality / label_suffix option.')


def _load(path: str) -> Tuple[np.ndarray, nib.Nifti1Image]:
    try:
        nii = nib.load(path)
        data = np.asarray(nii.dataobj)
    except Exception as e:  # nibabel raises several unrelated types
        raise ValueError(f'cannot read NIfTI file {path!r}: {e}') from e
    if data.ndim != 3:
        raise ValueError(f'{path!r} must be a 3-D volume, got shape {data.shape}.')
    return data, nii


def nonzero_bbox(image: np.ndarray) -> Tuple[int, ...]:
    """Half-open bounding box of the non-zero voxels.

    Args:
        image (np.ndarray): ``(X, Y, Z)`` (any 3-D order).

    Returns:
        tuple[int, ...]: ``(a0, b0, c0, a1, b1, c1)``.

    Raises:
        ValueError: The image has no non-zero voxel.
    """
    nz = np.nonzero(image)
    if nz[0].size == 0:
        raise ValueError('the image has no non-zero voxel; nothing to crop to.')
    return tuple(int(a.min()) for a in nz) + tuple(int(a.max()) + 1 for a in nz)


def _binary_label(label: np.ndarray, path: str, round_labels: bool) -> np.ndarray:
    label = integer_label(label, path, round_labels)
    values = set(np.unique(label).astype(int).tolist())
    unexpected = sorted(values - set(_BRATS_LABELS))
    if unexpected:
        MMLogger.get_current_instance().warning(
            f'label {path!r} holds values {unexpected} outside the BraTS set {{0, 1, 2, 4}}; '
            'all values > 0 become whole tumour.')
    return (label > 0).astype(np.uint8)


def convert_brats_case(case_dir: str,
                       out_h5: str,
                       modality: str = 'flair',
                       label_suffix: Optional[str] = 'seg',
                       round_labels: bool = False,
                       clip_percentile: Optional[float] = 99.9) -> Dict:
    """Convert one BraTS case folder to an HDF5 file.

    Args:
        case_dir (str): Folder ``<case>/`` holding ``<case>_<modality>.nii.gz``
            and ``<case>_<label_suffix>.nii.gz``.
        out_h5 (str): Output file (folders are created).
        modality (str): Image suffix, e.g. ``'flair'``, ``'t1'``, ``'t1ce'``
            (``'t1post'`` in the BraTS sample), ``'t2'``. Defaults to
            ``'flair'``.
        label_suffix (str, optional): Label suffix; None writes no label
            (cases without ground truth). Defaults to ``'seg'``.
        round_labels (bool): Accept a non-integer label map by rounding it
            (negative values clipped to 0); otherwise it is refused.
            Defaults to False.
        clip_percentile (float, optional): Upper clip percentile of the
            cropped image; None disables. Defaults to 99.9.

    Returns:
        dict: ``case``, ``shape`` (stored ``(W, H, D)``), ``bbox``,
        ``spacing``, ``foreground`` (fraction, or None without label).

    Raises:
        FileNotFoundError: A NIfTI file is missing.
        ValueError: Unreadable file, shapes differ, empty image, or a
            non-integer label without ``round_labels`` (naming the file).
    """
    case_dir = osp.normpath(case_dir)
    case = osp.basename(case_dir)
    img_path = _find(case_dir, case, modality)
    lab_path = _find(case_dir, case, label_suffix) if label_suffix else None
    image, nii = _load(img_path)
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError(f'image {img_path!r} contains NaN/Inf values.')
    label = None
    if lab_path is not None:
        label_raw, _ = _load(lab_path)
        if label_raw.shape != image.shape:
            raise ValueError(f'label {lab_path!r} has shape {label_raw.shape}, image '
                             f'{img_path!r} has {image.shape}.')
        label = _binary_label(label_raw, lab_path, round_labels)

    try:
        box = nonzero_bbox(image)
    except ValueError as e:
        raise ValueError(f'{img_path!r}: {e}') from e
    sl = tuple(slice(box[i], box[i + 3]) for i in range(3))
    image = image[sl]
    if clip_percentile is not None:
        image = np.minimum(image, np.percentile(image, clip_percentile)).astype(np.float32)
    brain = image[image > 0]
    if brain.size < 2:
        raise ValueError(f'{img_path!r} has fewer than 2 voxels > 0 in its crop; cannot z-score.')
    mean, std = float(brain.mean()), float(brain.std())
    image = ((image - mean) / max(std, 1e-8)).astype(np.float32)

    spacing = tuple(float(z) for z in nii.header.get_zooms()[:3])
    affine = np.asarray(nii.affine, dtype=np.float64).copy()
    affine[:3, 3] = affine[:3, :3] @ np.asarray(box[:3], dtype=np.float64) + affine[:3, 3]
    os.makedirs(osp.dirname(osp.abspath(out_h5)), exist_ok=True)
    with h5py.File(out_h5, 'w') as f:
        f.create_dataset('image', data=image, compression='gzip', track_times=False)
        if label is not None:
            f.create_dataset('label', data=label[sl], compression='gzip', track_times=False)
        f.attrs['spacing'] = np.asarray(spacing)
        f.attrs['affine'] = affine
        f.attrs['bbox'] = np.asarray(box, dtype=np.int64)
        f.attrs['modality'] = modality
        f.attrs['source'] = img_path
    return dict(case=case, shape=tuple(image.shape), bbox=box, spacing=spacing,
                foreground=None if label is None else float(label[sl].mean()))


def find_brats_cases(src_root: str, modality: str = 'flair') -> List[str]:
    """Case folders under ``src_root`` (any depth, e.g. ``HGG/`` and ``LGG/``), sorted by name.

    A folder is a case when it holds ``<folder name>_<modality>.nii[.gz]``.

    Raises:
        FileNotFoundError: ``src_root`` is missing or holds no case.
        ValueError: Two case folders share a name.
    """
    if not osp.isdir(src_root):
        raise FileNotFoundError(f'BraTS source folder {src_root!r} does not exist.')
    found: Dict[str, str] = {}
    for dirpath, _, files in os.walk(src_root):
        name = osp.basename(osp.normpath(dirpath))
        if any(f'{name}_{modality}{ext}' in files for ext in _EXTS):
            if name in found:
                raise ValueError(f'case {name!r} appears twice: {found[name]!r} and {dirpath!r}.')
            found[name] = dirpath
    if not found:
        raise FileNotFoundError(f'no BraTS case (folder <case>/ with <case>_{modality}.nii.gz) '
                                f'under {src_root!r}.')
    return [found[k] for k in sorted(found)]


def convert_brats(src_root: str,
                  out_root: str,
                  modality: str = 'flair',
                  label_suffix: Optional[str] = 'seg',
                  round_labels: bool = False,
                  clip_percentile: Optional[float] = 99.9,
                  list_file: str = 'all.list',
                  cases: Optional[Sequence[str]] = None) -> List[Dict]:
    """Convert every case under ``src_root`` into ``<out_root>/data/<case>.h5``.

    Also writes ``<out_root>/<list_file>`` (converted ids, sorted), usable as
    ``H5SegDataset(data_root=out_root, ann_file=list_file,
    path_template='data/{}.h5')``. Every case's files are located before
    anything is written.

    Args:
        src_root (str): Folder of case folders (any depth).
        out_root (str): Output folder.
        modality, label_suffix, round_labels, clip_percentile: See
            :func:`convert_brats_case`.
        list_file (str): Name of the list file. Defaults to ``'all.list'``.
        cases (Sequence[str], optional): Convert only these case names.

    Returns:
        list[dict]: The per-case summaries of :func:`convert_brats_case`.
    """
    dirs = find_brats_cases(src_root, modality)
    if cases is not None:
        by_name = {osp.basename(osp.normpath(d)): d for d in dirs}
        missing = [c for c in cases if c not in by_name]
        if missing:
            raise FileNotFoundError(f'cases not found under {src_root!r}: {missing[:10]}')
        dirs = [by_name[c] for c in cases]
    for d in dirs:  # fail before writing anything
        case = osp.basename(osp.normpath(d))
        _find(d, case, modality)
        if label_suffix:
            _find(d, case, label_suffix)
    logger = MMLogger.get_current_instance()
    results = []
    for d in dirs:
        case = osp.basename(osp.normpath(d))
        info = convert_brats_case(d, osp.join(out_root, 'data', f'{case}.h5'), modality,
                                  label_suffix, round_labels, clip_percentile)
        logger.info(f'converted {case}: shape (W, H, D)={info["shape"]}')
        results.append(info)
    with open(osp.join(out_root, list_file), 'w', encoding='utf-8') as f:
        f.write(''.join(r['case'] + '\n' for r in results))
    return results
