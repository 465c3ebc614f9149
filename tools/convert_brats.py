"""Convert BraTS NIfTI cases into fdpl's HDF5 layout (SSL4MIS preprocessing).

Example:
    python tools/convert_brats.py /path/to/MICCAI_BraTS_2019_Data_Training data/BraTS2019 \
        --modality flair --label-suffix seg

Writes ``<out>/data/<case>.h5`` (keys ``image`` float32 and ``label`` uint8,
stored ``(W, H, D)``, attribute ``spacing``) and ``<out>/all.list``. See
``fdpl.datasets.converters.brats`` for the steps.
"""
import argparse

from fdpl.datasets.converters import convert_brats


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='folder of BraTS case folders (any depth, e.g. HGG/, LGG/)')
    parser.add_argument('out', help='output folder')
    parser.add_argument('--modality', default='flair',
                        help="image suffix: flair, t1, t1ce, t2 ('t1post' in the BraTS sample)")
    parser.add_argument('--label-suffix', default='seg',
                        help="label suffix; 'none' for cases without ground truth")
    parser.add_argument('--round-labels', action='store_true',
                        help='round a non-integer (interpolated) label map instead of refusing it')
    parser.add_argument('--clip-percentile', type=float, default=99.9,
                        help='upper intensity clip percentile; a negative value disables it')
    parser.add_argument('--list-file', default='all.list', help='name of the written id list')
    parser.add_argument('--cases', nargs='*', default=None, help='convert only these cases')
    return parser.parse_args()


def main() -> None:
    """Run the conversion and print a summary."""
    args = parse_args()
    label_suffix = None if args.label_suffix.lower() == 'none' else args.label_suffix
    clip = None if args.clip_percentile < 0 else args.clip_percentile
    results = convert_brats(
        args.src, args.out, modality=args.modality, label_suffix=label_suffix,
        round_labels=args.round_labels, clip_percentile=clip, list_file=args.list_file,
        cases=args.cases)
    print(f'converted {len(results)} case(s) into {args.out}')


if __name__ == '__main__':
    main()
