"""Segment new scans: ``python tools/infer.py [CONFIG] CHECKPOINT INPUT [INPUT ...] --out DIR``.

CONFIG may be left out when the checkpoint carries its config (every
checkpoint fdpl's training writes does); CHECKPOINT may also be a model-zoo
name (``docs/model_zoo/<name>.json``). An INPUT is a NIfTI file, an HDF5 file
of the field's layout, a folder of them (or of one folder per case), or a
``manifest.json`` of ``tools/convert_nifti_folder.py``; several modalities per
case are named by file-name suffixes as there (``--modalities _flair _t1 ...``,
``--images-dir '{}'`` for one folder per case).

Writes into ``--out``, per case, ``<id>.nii.gz`` (uint8 labels with the
input's affine, shape and axis order; resampled back when the config
resamples), with ``--save-probs`` ``<id>_probs.nii.gz`` (float32 ``(x, y, z,
K)``), with ``--show-dir`` ``<id>.png`` overlays, and ``predictions.csv``
(case, inputs, output, foreground volume in voxels and ml, spacing, seconds)
plus ``env.json`` (what produced them). Every input is read and checked, and
an output folder already holding a prediction of a case is refused (unless
``--overwrite``), before the first inference; files are written atomically.

Examples:
    python tools/infer.py configs/supervised/cpu/vnet_la_10pct_half.py \\
        work_dirs/la/iter_600.pth scans/ --out preds/
    python tools/infer.py work_dirs/la/iter_600.pth case1.nii.gz case2.nii.gz --out preds/
    python tools/infer.py brats.pth /data/BraTS --images-dir '{}' \\
        --modalities _flair _t1 _t1ce _t2 --out preds/ --lcc --mode gaussian
"""
import argparse
import sys
from typing import List, Optional

from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        usage='%(prog)s [CONFIG] CHECKPOINT INPUT [INPUT ...] --out DIR [options]',
        description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('args', nargs='+', metavar='ARG',
                        help='[CONFIG] CHECKPOINT INPUT [INPUT ...]: a config file (.py, '
                        'optional), a checkpoint file or model-zoo name, then the inputs')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--save-probs', action='store_true',
                        help='also write <id>_probs.nii.gz (class probabilities)')
    parser.add_argument('--show-dir', help='folder for PNG overlays')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace predictions of the same cases already in --out')
    parser.add_argument('--device', default=None,
                        help='e.g. cpu, cuda, cuda:1 (default: cuda when available)')
    parser.add_argument('--mode', choices=['classic', 'gaussian', 'whole'], default=None,
                        help="sliding window (classic: the field's protocol; gaussian: nnU-Net "
                        "weighting) or one whole-volume pass (default: the config's)")
    parser.add_argument('--overlap', type=float, default=None,
                        help="window overlap in [0, 1); replaces the config's stride")
    parser.add_argument('--lcc', action='store_true',
                        help='keep the largest connected component of the foreground')
    parser.add_argument('--infer-with', choices=['net1', 'net2', 'mean'], default=None,
                        help='two-network models: SN1, SN2 or the mean of both')
    parser.add_argument('--modalities', nargs='+', default=None,
                        help='file-name suffixes of the modalities of a case, in channel order '
                        '(as tools/convert_nifti_folder.py); default: one file per case')
    parser.add_argument('--images-dir', default='',
                        help="image folder inside an input folder with --modalities; '{}' "
                        'stands for the case id (default: the folder itself)')
    parser.add_argument('--suffix', default='.nii.gz',
                        help='file extension with --modalities (default: .nii.gz)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.test_cfg.sw_batch_size=4')
    args = parser.parse_args(argv)
    positional = args.args
    if positional[0].endswith('.py'):
        args.config, rest = positional[0], positional[1:]
    else:
        args.config, rest = None, positional
    if len(rest) < 2:
        parser.error('expected [CONFIG] CHECKPOINT INPUT [INPUT ...]')
    args.checkpoint, args.inputs = rest[0], rest[1:]
    return args


def format_table(results: List[dict]) -> str:
    """Markdown table of the cases: foreground volume and time."""
    lines = ['| case | foreground voxels | foreground ml | seconds |', '|---|---|---|---|']
    for r in results:
        ml = '' if r['foreground_ml'] is None else f"{r['foreground_ml']:.2f}"
        lines.append(f"| {r['case_id']} | {r['foreground_voxels']} | {ml} | "
                     f"{r['seconds']:.2f} |")
    if results:
        mean = sum(r['seconds'] for r in results) / len(results)
        lines.append(f'| **mean time per case** | | | {mean:.2f} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Run inference; returns 0, or 2 after printing an error that names the bad input."""
    args = parse_args(argv)
    import fdpl  # noqa: F401
    from fdpl.apis import VolSegInferencer
    from fdpl.utils import add_cwd_to_path
    add_cwd_to_path()  # custom_imports such as 'projects.<name>.<pkg>' resolve from here
    try:
        if args.config is None and args.checkpoint.endswith('.py'):
            raise ValueError('the first argument is a config; give CHECKPOINT after it')
        model = args.config if args.config is not None else args.checkpoint
        weights = args.checkpoint if args.config is not None else None
        inferencer = VolSegInferencer(
            model, weights, device=args.device, mode=args.mode, overlap=args.overlap,
            lcc=True if args.lcc else None, infer_with=args.infer_with,
            cfg_options=args.cfg_options)
        cases = inferencer.prepare(args.inputs, args.modalities, args.images_dir, args.suffix,
                                   args.out, args.save_probs, args.overwrite)
    except (FileNotFoundError, FileExistsError, KeyError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    from mmengine.utils import ProgressBar
    test_cfg = inferencer.test_cfg
    mode = 'whole' if test_cfg['whole'] else test_cfg['mode']
    print(f'{len(cases)} case(s) checked; segmenting with {type(inferencer.model).__name__} '
          f'on {inferencer.device}, mode {mode}', flush=True)
    command = ['tools/infer.py'] + list(sys.argv[1:] if argv is None else argv)
    bar = ProgressBar(len(cases))
    results = []
    for result in inferencer.run(cases, args.out, args.save_probs, args.show_dir,
                                 keep_arrays=False, record=dict(command=command)):
        results.append(result)
        bar.update()
    print('\n' + format_table(results))
    print(f'predictions: {args.out}/predictions.csv\nrun record: {args.out}/env.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
