"""Write a tiny example folder of NIfTI volumes to try the custom-data walk-through on.

Example:
    python tools/make_example_nifti.py data/nifti_example --cases 8 --unlabeled 6

Layout (nnU-Net raw names)::

    OUT/imagesTr/case_000_0000.nii.gz   one file per case and modality
    OUT/labelsTr/case_000.nii.gz        only for the labeled cases

Each case has its own random shape (x, y in 40..56, z in 24..40 voxels) and
spacing 0.8 x 0.8 x 1.5 mm: a noisy ellipsoidal "body" on a zero background
(so a crop to the non-zero voxels has something to remove) holding one
brighter blob, the foreground (label 1). ``--cases`` cases get a label file,
``--unlabeled`` further cases do not; which ids lack a label is drawn from
the seed. The same arguments always give the same files.
"""
import argparse
import os.path as osp
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import nibabel as nib
import numpy as np


def _ellipsoid(shape: Tuple[int, int, int], centre, radii) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing='ij')
    dist = sum(((g - c) / r)**2 for g, c, r in zip(grids, centre, radii))
    return dist <= 1.0


def make_case(rng: np.random.Generator, num_modalities: int = 1
              ) -> Tuple[List[np.ndarray], np.ndarray, np.ndarray]:
    """One random case.

    Args:
        rng (np.random.Generator): Random source.
        num_modalities (int): Image channels (different contrasts).

    Returns:
        tuple: images (list of float32 ``(X, Y, Z)``), label uint8
        ``(X, Y, Z)`` in {0, 1}, affine ``(4, 4)``.
    """
    shape = (int(rng.integers(40, 57)), int(rng.integers(40, 57)), int(rng.integers(24, 41)))
    centre = [s / 2 + rng.uniform(-2, 2) for s in shape]
    body = _ellipsoid(shape, centre, [s * rng.uniform(0.38, 0.46) for s in shape])
    radii = [rng.uniform(4.5, 8.0), rng.uniform(4.5, 8.0), rng.uniform(3.0, 5.0)]
    blob_centre = [c + rng.uniform(-0.15, 0.15) * s for c, s in zip(centre, shape)]
    blob = _ellipsoid(shape, blob_centre, radii) & body
    images = []
    for m in range(num_modalities):
        base, fg = (100.0, 220.0) if m % 2 == 0 else (160.0, 60.0)
        img = np.where(body, base, 0.0) + np.where(blob, fg - base, 0.0)
        img = img + body * rng.normal(0.0, 18.0, size=shape)
        images.append(np.where(body, np.maximum(img, 1.0), 0.0).astype(np.float32))
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    affine[:3, 3] = rng.uniform(-50.0, 50.0, size=3)
    return images, blob.astype(np.uint8), affine


def make_example_folder(out: str, cases: int = 8, unlabeled: int = 6, num_modalities: int = 1,
                        seed: int = 0) -> Dict[str, List[str]]:
    """Write the example folder.

    Args:
        out (str): Output folder (``imagesTr/`` and ``labelsTr/`` inside).
        cases (int): Cases with a label file.
        unlabeled (int): Extra cases without a label file.
        num_modalities (int): Files per case (``_0000``, ``_0001``, ...).
        seed (int): Seed of everything random.

    Returns:
        dict: ``{'labeled': [...ids], 'unlabeled': [...ids]}``.
    """
    if cases < 0 or unlabeled < 0 or cases + unlabeled < 1 or num_modalities < 1:
        raise ValueError(f'need cases >= 0, unlabeled >= 0, at least one case and '
                         f'num_modalities >= 1; got {cases}, {unlabeled}, {num_modalities}.')
    rng = np.random.default_rng(seed)
    total = cases + unlabeled
    ids = [f'case_{i:03d}' for i in range(total)]
    no_label = set(rng.choice(total, size=unlabeled, replace=False).tolist())
    root = Path(out)
    (root / 'imagesTr').mkdir(parents=True, exist_ok=True)
    (root / 'labelsTr').mkdir(parents=True, exist_ok=True)
    result: Dict[str, List[str]] = dict(labeled=[], unlabeled=[])
    for i, case_id in enumerate(ids):
        images, label, affine = make_case(rng, num_modalities)
        for m, img in enumerate(images):
            nib.save(nib.Nifti1Image(img, affine),
                     str(root / 'imagesTr' / f'{case_id}_{m:04d}.nii.gz'))
        if i in no_label:
            result['unlabeled'].append(case_id)
        else:
            nib.save(nib.Nifti1Image(label, affine), str(root / 'labelsTr' / f'{case_id}.nii.gz'))
            result['labeled'].append(case_id)
    return result


def main(argv: Optional[List[str]] = None) -> None:
    """Parse the options and write the folder."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='output folder')
    parser.add_argument('--cases', type=int, default=8, help='cases with a label (default: 8)')
    parser.add_argument('--unlabeled', type=int, default=6,
                        help='extra cases without a label (default: 6)')
    parser.add_argument('--modalities', type=int, default=1,
                        help='image files per case, _0000, _0001, ... (default: 1)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    args = parser.parse_args(argv)
    res = make_example_folder(args.out, args.cases, args.unlabeled, args.modalities, args.seed)
    print(f"wrote {len(res['labeled'])} labeled and {len(res['unlabeled'])} unlabeled cases "
          f"into {osp.abspath(args.out)}")


if __name__ == '__main__':
    main()
