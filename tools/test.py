"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Prints a table of Dice, Jaccard, 95HD and ASD (mean +- std over cases) and
writes ``metrics.json``, ``per_case.csv`` and ``env.json`` (the run record
of :func:`fdpl.utils.run_record.collect_env` plus the checkpoint's path,
sha256 and stored meta) into the work dir; ``--out`` saves predictions as
NIfTI with the source affine, ``--show-dir`` PNG overlays of representative
slices. A checkpoint whose weights do not fit the config's model is refused
before any inference.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test an fdpl segmentor')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for metrics.json and per_case.csv')
    parser.add_argument('--out', help='folder for NIfTI predictions')
    parser.add_argument('--show-dir', help='folder for PNG overlays')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help="evaluate on the config's test set (default) or on its "
                        'validation (development) set')
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
    if args.split == 'val':
        for key in ('val_dataloader', 'val_evaluator'):
            if not cfg.get(key):
                raise ValueError(f'--split val: the config {args.config!r} has no `{key}`')
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_evaluator = cfg.val_evaluator
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.out or args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='PredictionWriterHook', out_dir=args.out, show_dir=args.show_dir)]
    check_config(cfg, train=False)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    checkpoint = check_checkpoint_fits(runner, args.config, args.checkpoint)
    runner.test()
    metric = runner.test_evaluator.metrics[0]
    summary, per_case = getattr(metric, 'summary', {}), getattr(metric, 'per_case', [])
    json_path, csv_path = write_metrics(cfg.work_dir, summary, per_case)
    print(format_table(summary))
    print(f'metrics: {json_path}\nper case: {csv_path}')
    if is_main_process():
        env_path = write_test_record(runner, cfg, args.checkpoint, checkpoint)
        print(f'run record: {env_path}')


def check_checkpoint_fits(runner: Runner, config: str, checkpoint_file: str) -> dict:
    """Load the checkpoint and refuse it unless its weights fit the runner's model.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        ValueError: Naming the first differing state-dict key and both files.
    """
    from mmengine.model import is_model_wrapper

    from fdpl.engine import check_state_dict_matches, checkpoint_state_dict
    from fdpl.engine.checkpoint import load_checkpoint_safe
    checkpoint = load_checkpoint_safe(checkpoint_file)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    check_state_dict_matches(model.state_dict(), checkpoint_state_dict(checkpoint),
                             config_file=config, checkpoint_file=checkpoint_file)
    return checkpoint


def write_test_record(runner: Runner, cfg: Config, checkpoint_file: str,
                      checkpoint: dict) -> str:
    """Write ``env.json`` next to ``metrics.json``: environment, data, checkpoint.

    Returns:
        str: The path written.
    """
    from fdpl.utils.run_record import collect_env, file_sha256, write_env_json
    meta = dict(checkpoint.get('meta') or {})
    stamp = meta.get('fdpl') if isinstance(meta.get('fdpl'), dict) else None
    if stamp and stamp.get('config'):
        meta.pop('cfg', None)  # the same text as meta['fdpl']['config']
    record = collect_env(
        cfg, datasets={'test': runner.test_dataloader.dataset}, seed=runner.seed,
        deterministic=runner.deterministic, kind='test', work_dir=cfg.work_dir,
        extra=dict(checkpoint=dict(path=osp.abspath(checkpoint_file),
                                   sha256=file_sha256(checkpoint_file), meta=meta)))
    train_split = (stamp or {}).get('split_sha256')
    test_split = record['data']['split_sha256']
    if train_split and test_split and train_split != test_split:
        print(f'warning: the checkpoint was trained with split file {stamp.get("split_file")!r} '
              f'(sha256 {train_split[:12]}), the test data comes from '
              f'{record["data"]["split_file"]!r} (sha256 {test_split[:12]})')
    return write_env_json(osp.join(cfg.work_dir, 'env.json'), record)


if __name__ == '__main__':
    main()
