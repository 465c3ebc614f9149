"""Turn a folder of NIfTI images (and labels) into a manifest, optionally HDF5 files.

Examples:
    # nnU-Net raw layout: imagesTr/<id>_0000.nii.gz (+ _0001 ...), labelsTr/<id>.nii.gz
    python tools/convert_nifti_folder.py /data/Dataset001_Liver data/liver \
        --modalities _0000
    # Decathlon-like names: imagesTr/<id>.nii.gz, labelsTr/<id>.nii.gz
    python tools/convert_nifti_folder.py /data/Task02_Heart data/heart --modalities ''
    # one folder per case (BraTS): <id>/<id>_flair.nii.gz, <id>/<id>_seg.nii.gz
    python tools/convert_nifti_folder.py /data/BraTS data/brats --images-dir '{}' \
        --labels-dir '{}' --modalities _flair _t1 _t1ce _t2 --label-suffix _seg \
        --num-classes 5 --h5-out data/brats_h5 --crop nonzero --margin 2

Writes ``<out>/manifest.json`` and ``<out>/manifest.csv`` (one row per case:
id, image files, label file or none, spacing, shape, sha256). Cases without a
label file form the unlabeled pool. With ``--h5-out DIR`` every case is also
written to ``DIR/data/<id>.h5`` (stored (W, H, D) like the LA files) with the
lists ``all.list``, ``labeled.list`` and ``unlabeled.list``. See
``fdpl.datasets.converters.nifti_folder`` for the checks.
"""
import argparse
import json
from typing import List, Optional

from fdpl.datasets.converters import convert_nifti_folder


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='folder of the NIfTI data')
    parser.add_argument('out', help='output folder of manifest.json and manifest.csv')
    parser.add_argument('--images-dir', default='imagesTr',
                        help="image folder inside SRC; '{}' stands for the case id "
                        "(default: imagesTr)")
    parser.add_argument('--labels-dir', default='labelsTr',
                        help="label folder inside SRC ('{}' = case id); 'none' if no case "
                        'has a label (default: labelsTr)')
    parser.add_argument('--modalities', nargs='+', default=['_0000'],
                        help="image file suffixes, one per channel, in channel order; '' for "
                        '<id>.nii.gz (default: _0000)')
    parser.add_argument('--label-suffix', default='',
                        help="label file suffix, e.g. _seg (default: '')")
    parser.add_argument('--suffix', default='.nii.gz', help='file extension (default: .nii.gz)')
    parser.add_argument('--num-classes', type=int, default=2,
                        help='label values must lie in 0..N-1 (default: 2)')
    parser.add_argument('--round-labels', action='store_true',
                        help='round a non-integer (interpolated) label map instead of refusing it')
    parser.add_argument('--affine-tol', type=float, default=1e-3,
                        help='largest affine difference allowed between the files of a case; '
                        'negative disables the check (default: 1e-3)')
    parser.add_argument('--require-label', nargs='+', default=None, metavar='ID',
                        help='case ids that must have a label (error otherwise)')
    parser.add_argument('--require-label-file', default=None, metavar='FILE',
                        help='ids that must have a label: a list file (one id per line) or a '
                        'split JSON (its labeled, val and test parts)')
    parser.add_argument('--h5-out', default=None, metavar='DIR',
                        help='also write DIR/data/<id>.h5 and DIR/{all,labeled,unlabeled}.list')
    parser.add_argument('--crop', choices=['none', 'nonzero'], default='none',
                        help='crop the HDF5 volumes to the non-zero voxels of the image (never '
                        'the label) plus --margin (default: none)')
    parser.add_argument('--margin', type=int, nargs='+', default=[0],
                        help='crop margin in voxels: one value or three (x y z) (default: 0)')
    return parser.parse_args(argv)


def _required_ids(args: argparse.Namespace) -> Optional[List[str]]:
    ids = list(args.require_label or [])
    if args.require_label_file:
        with open(args.require_label_file, encoding='utf-8') as f:
            text = f.read()
        if text.lstrip().startswith('{'):
            from fdpl.datasets.splits import load_split
            split = load_split(args.require_label_file)
            ids += [i for p in ('labeled', 'val', 'test') for i in split[p]]
        else:
            ids += [line.strip() for line in text.splitlines()
                    if line.strip() and not line.strip().startswith('#')]
    if args.require_label is None and args.require_label_file is None:
        return None
    return list(dict.fromkeys(ids))


def main(argv: Optional[List[str]] = None) -> None:
    """Run the conversion and print a summary."""
    args = parse_args(argv)
    if len(args.margin) not in (1, 3):
        raise SystemExit(f'--margin takes one value or three (x y z), got {args.margin}')
    margin = args.margin[0] if len(args.margin) == 1 else tuple(args.margin)
    labels_dir = None if args.labels_dir.lower() == 'none' else args.labels_dir
    manifest = convert_nifti_folder(
        args.src, args.out, images_dir=args.images_dir, labels_dir=labels_dir,
        modalities=args.modalities, label_suffix=args.label_suffix, suffix=args.suffix,
        num_classes=args.num_classes, round_labels=args.round_labels,
        affine_tol=None if args.affine_tol < 0 else args.affine_tol,
        require_labels=_required_ids(args), h5_out=args.h5_out, crop=args.crop,
        margin=margin)
    cases = manifest['cases']
    num_labeled = sum(c['label'] is not None for c in cases)
    print(json.dumps(dict(manifest=f'{args.out}/manifest.json', cases=len(cases),
                          labeled=num_labeled, unlabeled=len(cases) - num_labeled,
                          modalities=manifest['modalities'], h5_out=args.h5_out)))


if __name__ == '__main__':
    main()
