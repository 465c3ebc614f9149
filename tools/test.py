"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Prints a table of Dice, Jaccard, 95HD and ASD (mean +- std over cases) and
writes ``metrics.json`` and ``per_case.csv`` into the work dir; ``--out``
saves predictions as NIfTI with the source affine, ``--show-dir`` PNG
overlays of representative slices.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an fdpl segmentor')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for metrics.json and per_case.csv')
    parser.add_argument('--out', help='folder for NIfTI predictions')
    parser.add_argument('--show-dir', help='folder for PNG overlays')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.test_cfg.mode=gaussian')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    import fdpl  # noqa: F401
    from fdpl.evaluation.report import format_table, write_metrics
    from fdpl.utils import add_cwd_to_path, check_config, setup_cpu_distributed
    add_cwd_to_path()  # custom_imports such as 'projects.<name>.<pkg>' resolve from here
    for path, what in ((args.config, 'Config'), (args.checkpoint, 'Checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} file {path!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out or args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='PredictionWriterHook', out_dir=args.out, show_dir=args.show_dir)]
    check_config(cfg, train=False)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.test()
    metric = runner.test_evaluator.metrics[0]
    summary, per_case = getattr(metric, 'summary', {}), getattr(metric, 'per_case', [])
    json_path, csv_path = write_metrics(cfg.work_dir, summary, per_case)
    print(format_table(summary))
    print(f'metrics: {json_path}\nper case: {csv_path}')


if __name__ == '__main__':
    main()
