"""Synthetic LA-like volumes, generated on the fly in the LA h5 layout.

Each case is drawn from its own seeded generator (``seed`` and the case
index), so the same seed writes the same bytes. A case first draws its
*style* (:func:`draw_case_style`): every factor below varies from case to
case over a wide range, so that a handful of labeled cases samples only a
few corners of what the whole pool covers, as in real scans, and an
unlabeled pool of the same distribution covers the rest. A volume, in the
``(D, H, W)`` frame:

* a chamber: anisotropic Gaussian lobes summed and thresholded (an irregular,
  smooth body) whose linear size (x0.8 to x1.4), elongation per axis and
  position (up to 18 % of the field of view off centre in-plane) vary, plus
  1-5 tapering, slightly curved vein-like tubes and, mostly, an appendage
  -> the label;
* distractors, unlabeled: an aorta-like tube passing by and, in most cases,
  a second chamber next to the labeled one (both darker than the chamber,
  by a case-dependent factor), and 0-3 small blobs brighter than it;
* soft tissue with a smooth texture of varying strength and dark
  lung-like regions; chamber contrast, partial-volume blur, a multiplicative
  smooth bias field (strength and frequency), Rician noise (contrast-to-noise
  ratio 2.5 to 8) and a gamma all vary per case; the volume is z-scored and
  then given a residual scale (x0.5 to x2) and offset (+-1), as an imperfect
  per-scan normalization leaves them.

What stays constant is the rule that defines the label: the mid-bright
smooth body with its tubes, not the darker neighbours nor the bright blobs.
With 4 labeled cases a V-Net learns that rule for the intensities and sizes
it has seen and fails on cases far from them (floods or misses the chamber);
labeling all cases, or pseudo-labeling the unlabeled pool, closes much of
that gap (``docs/results.md``, section 2).

Files: ``<root>/2018LA_Seg_Training Set/<id>/mri_norm2.h5`` (``image``
float32, ``label`` uint8, both stored ``(W, H, D)`` like the real LA),
``train.list``, ``test.list`` and ``synthetic_la.json`` (the manifest that
makes generation idempotent; it records :data:`SYNTHETIC_LA_VERSION`, so data
written by another version of this generator is regenerated).
"""
import contextlib
import fcntl
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Iterator, List, Optional, Sequence, Tuple

import h5py
import numpy as np
from mmengine.logging import MMLogger
from scipy import ndimage

from fdpl.registry import DATASETS
from ._subsets import resolve_data_root
from .la_dataset import LADataset

#: Bumped whenever the generator's output changes; a cached folder whose manifest records
#: another version is regenerated. 2: per-case style (wide case-to-case variation).
SYNTHETIC_LA_VERSION = 2
MANIFEST = 'synthetic_la.json'
CASE_DIR = '2018LA_Seg_Training Set'
CASE_FILE = 'mri_norm2.h5'


def _smooth_field(rng: np.random.Generator, shape: Tuple[int, int, int],
                  cells: int) -> np.ndarray:
    """Smooth random field in [-1, 1].

    Random weights on a coarse grid (``cells`` nodes along the longest side)
    spread by separable Gaussian kernels: three small matrix products, far
    cheaper than filtering or spline-zooming the full volume.
    """
    mats = []
    for s in shape:
        n = max(2, int(round(cells * s / max(shape))))
        nodes = np.linspace(0, s - 1, n)
        width = (s - 1) / (n - 1) if n > 1 else float(s)
        x = np.arange(s)[:, None]
        mats.append(np.exp(-0.5 * ((x - nodes[None]) / width)**2).astype(np.float32))
    coarse = rng.standard_normal(tuple(m.shape[1] for m in mats)).astype(np.float32)
    field = np.tensordot(mats[0], coarse, axes=(1, 0))  # (D, n1, n2)
    field = np.tensordot(field, mats[1], axes=(1, 1))  # (D, n2, H)
    field = np.tensordot(field, mats[2], axes=(1, 1))  # (D, H, W)
    return field / (np.abs(field).max() + 1e-6)


def _gauss3(shape: Tuple[int, int, int], centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Separable anisotropic Gaussian ``exp(-|x - c|^2 / 2 sigma^2)`` (D, H, W), float32."""
    g = [np.exp(-0.5 * ((np.arange(s, dtype=np.float32) - c) / sg)**2)
         for s, c, sg in zip(shape, centre, sigma)]
    return g[0][:, None, None] * g[1][None, :, None] * g[2][None, None, :]


def _curve(rng: np.random.Generator, start: np.ndarray, direction: np.ndarray, length: float,
           bend: float, step: float = 0.5) -> np.ndarray:
    """Points of a smooth curve (N, 3) from ``start`` along a wandering direction."""
    n = max(2, int(length / step))
    d = direction / np.linalg.norm(direction)
    pts = [start]
    for _ in range(n):
        d = d + bend * rng.standard_normal(3)
        d /= np.linalg.norm(d)
        pts.append(pts[-1] + step * d)
    return np.asarray(pts)


def _tubes(shape: Tuple[int, int, int], curves: Sequence[np.ndarray],
           radii: Sequence[np.ndarray]) -> np.ndarray:
    """Soft membership (0..1) of tubes around polylines with per-point radii.

    Spheres are drawn into small boxes around each curve point, so the cost
    scales with the tube volume, not the image.
    """
    out = np.zeros(shape, dtype=np.float32)
    bound = np.asarray(shape)
    for pts, rad in zip(curves, radii):
        for p, r in zip(pts, rad):
            lo = np.maximum(np.floor(p - r - 1).astype(int), 0)
            hi = np.minimum(np.ceil(p + r + 2).astype(int), bound)
            if np.any(hi <= lo):
                continue
            ax = [np.arange(l, h, dtype=np.float32) - c for l, h, c in zip(lo, hi, p)]
            dist = np.sqrt(ax[0][:, None, None]**2 + ax[1][None, :, None]**2 +
                           ax[2][None, None, :]**2)
            box = out[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
            np.maximum(box, np.clip(r + 0.5 - dist, 0.0, 1.0), out=box)
    return out


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def draw_case_style(rng: np.random.Generator) -> dict:
    """Draw the factors that make one synthetic case differ from the others.

    Every case draws its own anatomy, position, contrast, intensity scale,
    bias field, noise, blur and distractor look from wide ranges, so a
    handful of cases samples only a few corners of the space that the whole
    pool covers.

    Args:
        rng (np.random.Generator): Source of randomness.

    Returns:
        dict: Plain floats and ints; see the keys in the source. Sizes are
        fractions of the volume (``size``) or of the chamber radius.
    """
    return dict(
        # anatomy and position
        size=_log_uniform(rng, 0.8, 1.4),           # chamber linear scale
        stretch=rng.uniform(0.7, 1.4, 3).tolist(),  # per-axis anisotropy
        lobes=int(rng.integers(3, 8)),
        offset=(rng.uniform(-1, 1, 3) * np.array([0.08, 0.18, 0.18])).tolist(),
        veins=int(rng.integers(1, 6)),
        vein_width=rng.uniform(0.14, 0.32),
        appendage=bool(rng.random() < 0.8),
        # distractors: a vessel, a second chamber, small bright blobs
        aorta_radius=rng.uniform(0.06, 0.13),
        aorta_gap=rng.uniform(0.22, 0.4),
        aorta_level=rng.uniform(0.6, 0.85),
        chamber2=bool(rng.random() < 0.75),
        chamber2_size=rng.uniform(0.4, 0.7),
        chamber2_level=rng.uniform(0.55, 0.8),
        blobs=int(rng.integers(0, 4)),
        blob_level=rng.uniform(1.3, 1.8),
        # intensities
        contrast=rng.uniform(0.3, 0.9),            # chamber over tissue (tissue ~0.3)
        texture=rng.uniform(0.04, 0.2),
        lung=rng.uniform(0.3, 0.75),                 # threshold of the dark regions
        pool_inhomogeneity=rng.uniform(0.0, 0.2),
        blur=rng.uniform(0.5, 1.2),
        bias=rng.uniform(0.1, 0.8),                 # log-amplitude of the bias field
        bias_cells=int(rng.integers(2, 5)),
        cnr=_log_uniform(rng, 2.5, 8.0),             # contrast / Rician noise sigma
        gamma=_log_uniform(rng, 0.6, 1.6),
        scale=_log_uniform(rng, 0.5, 2.0),           # residual scale after z-scoring
        shift=rng.uniform(-1.0, 1.0),                # residual offset after z-scoring
    )


def synthesize_la_volume(
        rng: np.random.Generator,
        shape: Tuple[int, int, int] = (48, 96, 96)) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one LA-like volume.

    The case's factors come from :func:`draw_case_style` (drawn first, from
    the same ``rng``), then the volume is rendered from them.

    Args:
        rng (np.random.Generator): Source of randomness.
        shape (tuple[int, int, int]): ``(D, H, W)``.

    Returns:
        tuple[np.ndarray, np.ndarray]: image float32 ``(D, H, W)``,
        normalized per case up to the case's residual scale and offset, and
        label uint8 ``(D, H, W)`` in {0, 1}.
    """
    shape = tuple(int(s) for s in shape)
    size = np.asarray(shape, dtype=np.float64)
    scale = size.min()
    st = draw_case_style(rng)

    # chamber: sum of anisotropic Gaussian lobes plus a little smooth noise, thresholded
    centre = size / 2 + np.asarray(st['offset']) * size
    stretch = np.asarray(st['stretch'])
    field = np.zeros(shape, dtype=np.float32)
    for _ in range(st['lobes']):
        c = centre + rng.normal(0, 0.08, 3) * size * st['size']
        sig = rng.uniform(0.08, 0.15, 3) * size * st['size'] * stretch
        field += rng.uniform(0.7, 1.0) * _gauss3(shape, c, sig)
    field += 0.1 * field.max() * _smooth_field(rng, shape, 8)
    chamber = (field > rng.uniform(0.38, 0.46) * field.max()).astype(np.float32)

    # pulmonary-vein-like branches and an appendage leaving the chamber
    com = np.asarray(ndimage.center_of_mass(chamber)) if chamber.any() else centre
    radius = max((3 * chamber.sum() / (4 * np.pi))**(1 / 3), 2.0)
    curves, radii = [], []
    phase = rng.uniform(0, 2 * np.pi)
    for k in range(st['veins']):
        ang = phase + 2 * np.pi * (k + rng.uniform(-0.3, 0.3)) / st['veins']
        direction = np.array([rng.uniform(-0.4, 0.4), np.sin(ang), np.cos(ang)])
        pts = _curve(rng, com, direction, radius * rng.uniform(1.4, 2.3), bend=0.1, step=1.0)
        r0 = max(radius * st['vein_width'] * rng.uniform(0.8, 1.2), 1.0)
        curves.append(pts)
        radii.append(np.linspace(r0, 0.6 * r0, len(pts)))
    if st['appendage']:
        ang = phase + np.pi / 4 + rng.uniform(-0.3, 0.3)
        direction = np.array([rng.uniform(0.3, 0.8), np.sin(ang), np.cos(ang)])
        pts = _curve(rng, com, direction, radius * rng.uniform(1.1, 1.4), bend=0.25, step=1.0)
        curves.append(pts)
        radii.append(np.linspace(0.35 * radius, 0.12 * radius, len(pts)))
    label_soft = np.maximum(chamber, _tubes(shape, curves, radii))
    label_soft = ndimage.gaussian_filter(label_soft, 0.8)
    label = (label_soft > 0.5).astype(np.uint8)

    # distractors (unlabeled): an aorta-like tube, a second chamber, small bright blobs;
    # each with its own intensity relative to the chamber's
    side = rng.choice([-1.0, 1.0])
    start = np.array([0.0, com[1] + side * (radius + st['aorta_gap'] * size[1]),
                      com[2] + rng.uniform(-0.25, 0.25) * size[2]])
    aorta = _curve(rng, start, np.array([1.0, 0.1 * side, rng.uniform(-0.3, 0.3)]),
                   size[0] * 1.3, bend=0.04, step=1.0)
    layers = [(_tubes(shape, [aorta], [np.full(len(aorta), st['aorta_radius'] * scale)]),
               st['aorta_level'])]
    if st['chamber2']:
        d = np.array([rng.uniform(-0.3, 0.3), -side * rng.uniform(0.3, 0.7),
                      rng.choice([-1.0, 1.0])])
        d /= np.linalg.norm(d)
        sig2 = st['chamber2_size'] * radius
        c2 = com + d * (radius + 1.6 * sig2 + rng.uniform(0.5, 3.0))
        blob2 = _gauss3(shape, c2, sig2 * rng.uniform(0.8, 1.2, 3))
        layers.append((np.clip((blob2 - 0.3) * 4, 0, 1), st['chamber2_level']))
    for _ in range(st['blobs']):
        c = rng.uniform(0.15, 0.85, 3) * size
        blob = _gauss3(shape, c, np.full(3, rng.uniform(0.04, 0.08) * scale))
        layers.append((np.clip((blob - 0.5) * 4, 0, 1), st['blob_level']))

    # intensities, partial volume, bias field, Rician noise, gamma, normalization
    tissue = 0.3 + st['texture'] * (_smooth_field(rng, shape, 12) +
                                    0.5 * _smooth_field(rng, shape, 24))
    lung = np.clip((_smooth_field(rng, shape, 4) - st['lung']) * 8, 0, 1)
    tissue = tissue * (1 - lung) + 0.05 * lung
    fg_level = 0.3 + st['contrast']
    img = tissue * (1 - label_soft) + fg_level * label_soft
    for member, level in layers:
        member = member * (1 - label)
        img = img * (1 - member) + level * fg_level * member
    img += st['pool_inhomogeneity'] * fg_level * _smooth_field(rng, shape, 8) * label_soft
    img = ndimage.gaussian_filter(img, st['blur'])
    img *= np.exp(st['bias'] * _smooth_field(rng, shape, st['bias_cells']))
    sigma = st['contrast'] / st['cnr']
    n1 = rng.standard_normal(shape, dtype=np.float32) * sigma
    n2 = rng.standard_normal(shape, dtype=np.float32) * sigma
    img = np.sqrt((img + n1)**2 + n2**2)
    img = (img / (np.percentile(img, 99.5) + 1e-6))**st['gamma']
    img = (img - img.mean()) / (img.std() + 1e-6)
    img = st['scale'] * img + st['shift']
    return img.astype(np.float32), label


def _case_ids(prefix: str, n: int) -> List[str]:
    return [f'{prefix}{i:03d}' for i in range(n)]


def _manifest(num_train: int, num_test: int, shape: Sequence[int], seed: int) -> dict:
    return dict(
        generator='fdpl.synthetic_la', version=SYNTHETIC_LA_VERSION, seed=int(seed),
        num_train=int(num_train), num_test=int(num_test), shape_dhw=[int(s) for s in shape])


def _is_complete(root: str, manifest: dict) -> bool:
    try:
        with open(osp.join(root, MANIFEST), encoding='utf-8') as f:
            if json.load(f) != manifest:
                return False
    except (OSError, ValueError):
        return False
    ids = _case_ids('synth_train_', manifest['num_train']) + _case_ids(
        'synth_test_', manifest['num_test'])
    return all(osp.isfile(osp.join(root, f)) for f in ('train.list', 'test.list')) and all(
        osp.isfile(osp.join(root, CASE_DIR, i, CASE_FILE)) for i in ids)


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Exclusive lock on ``path`` (a file beside the data root)."""
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_case(path: str, image: np.ndarray, label: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with h5py.File(path, 'w', track_order=False) as f:
        # stored (W, H, D) like the real LA files
        f.create_dataset('image', data=image.transpose(2, 1, 0), track_times=False)
        f.create_dataset('label', data=label.transpose(2, 1, 0), track_times=False)


def generate_synthetic_la(root: str,
                          num_train: int = 24,
                          num_test: int = 8,
                          shape: Sequence[int] = (48, 96, 96),
                          seed: int = 0,
                          force: bool = False) -> str:
    """Write synthetic LA-like cases in the LA h5 layout, once.

    Train ids are ``synth_train_000 ...`` (``train.list``; the first
    ``labeled_num`` of them are the labeled ones), test ids
    ``synth_test_000 ...`` (``test.list``). Case ``i`` of the train list is
    drawn with ``np.random.default_rng([seed, 0, i])``, test case ``i`` with
    ``[seed, 1, i]``: the same arguments write the same bytes (on one platform;
    BLAS may change the last float bits elsewhere).

    Idempotent and safe across processes: under an exclusive lock on
    ``<root>.lock`` it returns at once when ``<root>/synthetic_la.json``
    matches the arguments and every file exists; otherwise it writes into a
    temporary sibling folder and renames it into place. A ``root`` that
    holds other data (no manifest) is never overwritten.

    Args:
        root (str): Output folder.
        num_train (int): Training cases. Defaults to 24.
        num_test (int): Test cases. Defaults to 8.
        shape (Sequence[int]): Volume shape ``(D, H, W)``. Defaults to
            ``(48, 96, 96)`` (about 0.5 s per case on one CPU core; 0.2 s at
            ``(32, 64, 64)``).
        seed (int): Seed. Defaults to 0.
        force (bool): Regenerate even if complete. Defaults to False.

    Returns:
        str: ``root``.
    """
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f'shape must be (D, H, W) with every side >= 8, got {tuple(shape)}.')
    if num_train < 1 or num_test < 0:
        raise ValueError(f'num_train must be >= 1 and num_test >= 0, got {num_train}, {num_test}.')
    root = osp.abspath(osp.expanduser(root))
    manifest = _manifest(num_train, num_test, shape, seed)
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    with _locked(root + '.lock'):
        if not force and _is_complete(root, manifest):
            return root
        if osp.isdir(root) and os.listdir(root) and not osp.isfile(osp.join(root, MANIFEST)):
            raise FileExistsError(
                f'{root!r} exists and holds files that are not synthetic LA data (no '
                f'{MANIFEST}); choose another data_root.')
        MMLogger.get_current_instance().info(
            f'Generating synthetic LA data in {root!r}: {num_train} train + {num_test} test '
            f'volumes of shape (D, H, W)={tuple(shape)}, seed={seed}.')
        tmp = tempfile.mkdtemp(prefix='.synthetic_la.', dir=parent)
        try:
            for split, prefix, n in ((0, 'synth_train_', num_train), (1, 'synth_test_', num_test)):
                ids = _case_ids(prefix, n)
                for i, case_id in enumerate(ids):
                    img, lab = synthesize_la_volume(np.random.default_rng([seed, split, i]), shape)
                    _write_case(osp.join(tmp, CASE_DIR, case_id, CASE_FILE), img, lab)
                list_name = 'train.list' if split == 0 else 'test.list'
                with open(osp.join(tmp, list_name), 'w', encoding='utf-8') as f:
                    f.write(''.join(i + '\n' for i in ids))
            with open(osp.join(tmp, MANIFEST), 'w', encoding='utf-8') as f:
                json.dump(manifest, f, indent=2)
            old = None
            if osp.exists(root):
                old = tempfile.mkdtemp(prefix='.synthetic_la_old.', dir=parent)
                os.rename(root, osp.join(old, 'data'))
            os.rename(tmp, root)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return root


@DATASETS.register_module()
class SyntheticLADataset(LADataset):
    """:class:`LADataset` on synthetic LA-like volumes generated on first use.

    Defaults: 24 train ids (``train.list``, the labeled ones first as in the
    field) and 8 test ids (``test.list``), volumes ``(D, H, W) = (48, 96,
    96)``, seed 0 (see :func:`generate_synthetic_la`); generation takes a few
    seconds and is skipped when the data are already there. Safe when
    several ranks build the dataset at once (file lock + atomic rename).

    Args:
        data_root (str, optional): Folder to generate into and read from.
            None means ``$FDPL_DATA_ROOT/synthetic_la`` (``data/synthetic_la``
            when the variable is unset).
        generate (dict, optional): Arguments of
            :func:`generate_synthetic_la` (``num_train``, ``num_test``,
            ``shape``, ``seed``). Defaults to None (the defaults above).
        **kwargs: :class:`LADataset` arguments (``ann_file``, ``subset``,
            ``labeled_num``, ``num_val``, ``split_file``, ``pipeline``, ...).
            A split file for these ids is written with
            ``tools/make_splits.py --data-root <data_root> --list train.list
            --test-list test.list ...`` once the data exist.

    Example:
        >>> ds = SyntheticLADataset(data_root='data/synthetic_la', subset='labeled',
        ...                         labeled_num=4, num_val=4, generate=dict(seed=0))
    """

    DEFAULT_SUBDIR: str = 'synthetic_la'

    def __init__(self,
                 data_root: Optional[str] = None,
                 generate: Optional[dict] = None,
                 **kwargs) -> None:
        root = resolve_data_root(data_root, self.DEFAULT_SUBDIR, type(self).__name__)
        generate_synthetic_la(root, **(generate or {}))
        super().__init__(data_root=root, **kwargs)
