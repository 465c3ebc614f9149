"""Loading transforms: read a volume (and its label) into ``(C, D, H, W)``.

Both loaders transpose the stored axes once to ``(D, H, W)``; nothing else
in fdpl reorders axes. They fill ``results`` with:

- ``img``: float32 ``(C, D, H, W)``;
- ``gt_seg_map``: uint8 ``(D, H, W)`` (only when a label is loaded);
- ``ori_shape``: ``(D, H, W)``; ``spacing``: ``(d, h, w)`` floats;
- ``affine``: float64 ``(4, 4)``; ``transforms``: ``[]``.

A labeled case whose label has no foreground voxel (all 0) is loaded but
warned about (a ``UserWarning`` naming the file), once per file and process.
"""
import os.path as osp
import warnings
from typing import Dict, Optional, Sequence, Set, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from fdpl.registry import TRANSFORMS

__all__ = ['LoadH5Volume', 'LoadNiftiVolume']


def _check_image(img: np.ndarray, path: str) -> None:
    if not np.isfinite(img).all():
        n_bad = int(img.size - np.isfinite(img).sum())
        raise ValueError(f'image {path} contains {n_bad} NaN/Inf values')


def _to_label(label: np.ndarray,
              path: str,
              num_classes: Optional[int],
              round_labels: bool = False) -> np.ndarray:
    """Validate a label map and return it as uint8.

    Args:
        label (np.ndarray): ``(D, H, W)`` of any numeric dtype.
        path (str): file name for error messages.
        num_classes (int, optional): if given, values must lie in
            ``range(num_classes)``.
        round_labels (bool): round a non-integer map (and clip negative
            values, interpolation undershoot, to 0) instead of refusing it.

    Returns:
        np.ndarray: uint8 ``(D, H, W)``.
    """
    if label.dtype == bool:
        label = label.astype(np.uint8)
    if not np.issubdtype(label.dtype, np.number):
        raise ValueError(f'label {path} has non-numeric dtype {label.dtype}')
    if not np.issubdtype(label.dtype, np.integer):
        if not np.isfinite(label).all():
            raise ValueError(f'label {path} contains NaN/Inf values')
        rounded = np.rint(label)
        if not np.array_equal(rounded, label):
            if not round_labels:
                bad = label[rounded != label]
                raise ValueError(
                    f'label {path} is not integer-valued (e.g. {float(bad.flat[0]):.4g}, '
                    f'{bad.size} voxels, range {float(label.min()):.4g}..'
                    f'{float(label.max()):.4g}); pass round_labels=True to round it')
            rounded = np.maximum(rounded, 0)
        label = rounded
    lo, hi = (label.min(), label.max()) if label.size else (0, 0)
    if lo < 0:
        raise ValueError(f'label {path} has negative values (min {lo})')
    limit = 256 if num_classes is None else int(num_classes)
    if hi >= limit:
        what = (f'range(num_classes={num_classes})'
                if num_classes is not None else 'the uint8 range 0..255')
        raise ValueError(f'label {path} has values outside {what}: '
                         f'found {sorted(np.unique(label)[-5:].tolist())} at the top')
    return label.astype(np.uint8)


#: Label files already warned about in this process (see _warn_if_no_foreground).
_WARNED_NO_FOREGROUND: Set[str] = set()


def _warn_if_no_foreground(label: np.ndarray, path: str, results: Dict) -> None:
    """Warn once per file when a labeled case's label map is all background.

    Such a case teaches only background, and at evaluation scores Dice 0
    for any foreground predicted; it is usually a wrong file or a failed
    conversion. Unlabeled cases (``results['labeled']`` False), whose
    labels are read for monitoring only, are not checked. The memory is per
    process: each dataloader worker warns once.
    """
    if results.get('labeled', True) is False or label.any():
        return
    key = osp.abspath(path)
    if key in _WARNED_NO_FOREGROUND:
        return
    _WARNED_NO_FOREGROUND.add(key)
    case = results.get('case_id')
    warnings.warn(f'label {path}{f" (case {case})" if case is not None else ""} has no '
                  f'foreground voxel: every value is 0 in its {label.shape} map. As a labeled '
                  'case it teaches only background, and at evaluation it scores Dice 0 for any '
                  'foreground predicted (undefined distances); check the file, or move the '
                  'case to the unlabeled pool', UserWarning, stacklevel=2)


def _axis_perm(axis_order: str) -> Tuple[int, int, int]:
    order = axis_order.upper()
    if sorted(order) != ['D', 'H', 'W']:
        raise ValueError(f"axis_order must be a permutation of 'DHW', got {axis_order!r}")
    return tuple(order.index(c) for c in 'DHW')


@TRANSFORMS.register_module()
class LoadH5Volume(BaseTransform):
    """Load an image (and label) from an HDF5 file such as LA's ``mri_norm2.h5``.

    Required keys: ``img_path``; optional ``seg_map_path`` (defaults to
    ``img_path``: image and label in one file), ``num_classes`` and
    ``labeled``. Added keys: ``img``, ``gt_seg_map`` (if ``with_label``),
    ``ori_shape``, ``spacing``, ``affine``, ``transforms``. An unlabeled case
    (``results['labeled']`` False) may lack the label: it then gets no
    ``gt_seg_map`` instead of an error.

    The stored arrays are ``(W, H, D)`` for LA (``axis_order='WHD'``) and are
    transposed to ``(D, H, W)``. A 4-D stored image is read as channels
    first, ``(C, <axis_order>)``. File attributes ``spacing`` (given in the
    stored axis order, permuted like the arrays) and ``affine`` are used
    when present, else ``(1, 1, 1)`` and the identity.

    Args:
        img_key (str): dataset name of the image. Defaults to ``'image'``.
        label_key (str): dataset name of the label. Defaults to ``'label'``.
        with_label (bool): load the label. Defaults to True.
        axis_order (str): stored order of the spatial axes, a permutation
            of ``'DHW'``. Defaults to ``'WHD'``.
        num_classes (int, optional): if given (or ``results['num_classes']``
            is), label values must lie in ``range(num_classes)``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not readable HDF5 (e.g. truncated), shapes
            differ, the image has NaN/Inf, or the label is not integer or out
            of range.
        KeyError: a dataset key is missing (the message lists the keys).
    """

    def __init__(self,
                 img_key: str = 'image',
                 label_key: str = 'label',
                 with_label: bool = True,
                 axis_order: str = 'WHD',
                 num_classes: Optional[int] = None) -> None:
        self.img_key = img_key
        self.label_key = label_key
        self.with_label = with_label
        self.axis_order = axis_order
        self._perm = _axis_perm(axis_order)
        if num_classes is not None and int(num_classes) < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes

    @staticmethod
    def _read(path: str, keys: Sequence[str],
              optional: Sequence[str] = ()) -> Tuple[Dict[str, np.ndarray], Dict]:
        """Read datasets ``keys`` and the file attributes of ``path``.

        Keys listed in ``optional`` are skipped when the file lacks them.
        """
        import h5py
        if not osp.isfile(path):
            raise FileNotFoundError(f'HDF5 file not found: {path}')
        arrays = {}
        try:
            with h5py.File(path, 'r') as f:
                for key in keys:
                    if key not in f and key in optional:
                        continue
                    if key not in f:
                        raise KeyError(f'key {key!r} not in HDF5 file {path}; '
                                       f'available keys: {sorted(f.keys())}')
                    arrays[key] = np.asarray(f[key][()])
                attrs = {k: np.asarray(f.attrs[k]) for k in f.attrs}
        except OSError as e:
            raise ValueError(f'cannot read HDF5 file {path} (corrupt or truncated?): {e}') from e
        for key, arr in arrays.items():
            if arr.ndim == 0:
                raise ValueError(f'{key!r} in {path} is a scalar, expected a volume')
        return arrays, attrs

    def transform(self, results: Dict) -> Dict:
        """Load the volume.

        Args:
            results (dict): with ``img_path``.

        Returns:
            dict: ``results`` with the keys listed in the class docstring.
        """
        img_path = str(results['img_path'])
        seg_path = str(results.get('seg_map_path') or img_path)
        same_file = self.with_label and seg_path == img_path
        keys = [self.img_key, self.label_key] if same_file else [self.img_key]
        # an unlabeled case may have no label (it is read for monitoring only)
        optional = (self.label_key, ) if results.get('labeled', True) is False else ()
        arrays, attrs = self._read(img_path, keys, optional)
        img = arrays[self.img_key]
        if img.ndim == 3:
            img = img[None]
        elif img.ndim != 4:
            raise ValueError(f'image {self.img_key!r} in {img_path} must be 3-D '
                             f'({self.axis_order}) or 4-D (C, {self.axis_order}), '
                             f'got shape {img.shape}')
        img = np.ascontiguousarray(
            img.transpose((0, ) + tuple(p + 1 for p in self._perm)), dtype=np.float32)
        _check_image(img, img_path)
        results['img'] = img
        shape = img.shape[1:]

        label = None
        if self.with_label and same_file:
            label = arrays.get(self.label_key)
        elif self.with_label and not (optional and not osp.isfile(seg_path)):
            label = self._read(seg_path, [self.label_key], optional)[0].get(self.label_key)
        if label is not None:
            if label.ndim != 3 or label.transpose(self._perm).shape != shape:
                raise ValueError(f'label {self.label_key!r} of {seg_path} has shape '
                                 f'{label.shape}, image {self.img_key!r} of {img_path} has '
                                 f'spatial shape {tuple(img.shape[1:])} after transposing '
                                 f'from {self.axis_order}; they must match')
            num_classes = self.num_classes or results.get('num_classes')
            label = _to_label(label, seg_path, num_classes)
            _warn_if_no_foreground(label, seg_path, results)
            results['gt_seg_map'] = np.ascontiguousarray(label.transpose(self._perm))

        spacing = attrs.get('spacing')
        if spacing is not None:
            spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
            if spacing.size != 3 or not (spacing > 0).all():
                raise ValueError(f'attribute spacing of {img_path} must hold 3 positive '
                                 f'values, got {spacing.tolist()}')
            spacing = tuple(float(spacing[p]) for p in self._perm)
        else:
            spacing = (1.0, 1.0, 1.0)
        affine = attrs.get('affine')
        affine = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ValueError(f'attribute affine of {img_path} must be 4x4, got {affine.shape}')

        results['ori_shape'] = tuple(int(s) for s in shape)
        results['spacing'] = spacing
        results['affine'] = affine
        results['transforms'] = []
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(img_key={self.img_key!r}, '
                f'label_key={self.label_key!r}, with_label={self.with_label}, '
                f'axis_order={self.axis_order!r}, num_classes={self.num_classes})')


@TRANSFORMS.register_module()
class LoadNiftiVolume(BaseTransform):
    """Load a NIfTI volume (one file per modality) and an optional label.

    Required keys: ``img_path`` (a path or a list of paths, one per
    modality, stacked as channels in that order); ``seg_map_path`` when
    ``with_label`` (an unlabeled case, ``results['labeled']`` False, may
    have none: it then gets no ``gt_seg_map``). Added keys: ``img``,
    ``gt_seg_map`` (if loaded), ``ori_shape``, ``spacing``, ``affine`` (the
    first image's, as stored), ``transforms``.

    nibabel returns ``(x, y, z)``; arrays are transposed to
    ``(z, y, x) = (D, H, W)`` and the header zooms reversed to
    ``(d, h, w)`` spacing. A 4-D file ``(x, y, z, c)`` contributes ``c``
    channels.

    Args:
        with_label (bool): load ``seg_map_path``. Defaults to True.
        num_classes (int, optional): if given (or ``results['num_classes']``
            is), label values must lie in ``range(num_classes)``.
        round_labels (bool): a label map that is not integer-valued (e.g. an
            interpolated one) is refused unless this is True; then it is
            rounded to the nearest integer and negative undershoot set to 0.
            Defaults to False.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: unreadable file, shapes differ, NaN/Inf in the image,
            non-integer or out-of-range labels.
        KeyError: ``with_label`` is True but a labeled case has no
            ``seg_map_path``.
    """

    def __init__(self,
                 with_label: bool = True,
                 num_classes: Optional[int] = None,
                 round_labels: bool = False) -> None:
        self.with_label = with_label
        if num_classes is not None and int(num_classes) < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.round_labels = round_labels

    @staticmethod
    def _load(path: str):
        import nibabel as nib
        if not osp.isfile(path):
            raise FileNotFoundError(f'NIfTI file not found: {path}')
        try:
            nii = nib.load(path)
            data = np.asarray(nii.dataobj)
        except Exception as e:  # nibabel raises several types on bad files
            raise ValueError(f'cannot read NIfTI file {path}: {e}') from e
        if data.ndim not in (3, 4):
            raise ValueError(f'NIfTI file {path} must be 3-D (x, y, z) or 4-D (x, y, z, c), '
                             f'got shape {data.shape}')
        return nii, data

    def transform(self, results: Dict) -> Dict:
        """Load the volume.

        Args:
            results (dict): with ``img_path`` (and ``seg_map_path``).

        Returns:
            dict: ``results`` with the keys listed in the class docstring.
        """
        paths: Union[str, Sequence[str]] = results['img_path']
        if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence):
            paths = [paths]
        if len(paths) == 0:
            raise ValueError('img_path is an empty list; expected one file per modality')
        channels = []
        first_nii, shape = None, None
        for path in paths:
            path = str(path)
            nii, data = self._load(path)
            data = data[..., None] if data.ndim == 3 else data
            # (x, y, z, c) -> (c, z, y, x)
            vol = data.transpose(3, 2, 1, 0).astype(np.float32)
            if shape is None:
                first_nii, shape = nii, vol.shape[1:]
            elif vol.shape[1:] != shape:
                raise ValueError(f'modality {path} has shape {vol.shape[1:]} (D, H, W), '
                                 f'{paths[0]} has {shape}; all modalities must match')
            _check_image(vol, path)
            channels.append(vol)
        results['img'] = np.ascontiguousarray(np.concatenate(channels, axis=0))

        seg_path = results.get('seg_map_path')
        if self.with_label and seg_path is None and bool(results.get('labeled', True)):
            raise KeyError('LoadNiftiVolume(with_label=True) needs results["seg_map_path"] '
                           f'for the labeled case {paths[0]}; use with_label=False for '
                           'unlabeled data')
        if self.with_label and seg_path is not None:
            _, label = self._load(str(seg_path))
            if label.ndim != 3:
                raise ValueError(f'label {seg_path} must be 3-D (x, y, z), got {label.shape}')
            label = label.transpose(2, 1, 0)
            if label.shape != shape:
                raise ValueError(f'label {seg_path} has shape {label.shape} (D, H, W), image '
                                 f'{paths[0]} has {shape}; they must match')
            num_classes = self.num_classes or results.get('num_classes')
            label = _to_label(label, str(seg_path), num_classes, self.round_labels)
            _warn_if_no_foreground(label, str(seg_path), results)
            results['gt_seg_map'] = np.ascontiguousarray(label)

        zooms = first_nii.header.get_zooms()[:3]
        results['ori_shape'] = tuple(int(s) for s in shape)
        results['spacing'] = tuple(float(z) for z in zooms[::-1])
        results['affine'] = np.asarray(first_nii.affine, dtype=np.float64)
        results['transforms'] = []
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(with_label={self.with_label}, '
                f'num_classes={self.num_classes}, round_labels={self.round_labels})')
