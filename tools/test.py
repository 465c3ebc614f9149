"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Prints a table of Dice, Jaccard, 95HD and ASD (mean +- std over cases) and
writes ``metrics.json``, ``per_case.csv`` and ``env.json`` (the run record
of :func:`fdpl.provenance.run_record.collect_env` plus the checkpoint's path,
sha256 and stored meta) into the work dir; ``--out`` saves predictions as
NIfTI with the source affine, ``--show-dir`` PNG overlays of representative
slices. A checkpoint whose weights do not fit the config's model is refused
before any inference.

A model with several predictors (FDPL: SN1, SN2 and their mean) is scored
with each, from one sliding-window pass per sub-network (the mean averages
their probabilities): one table with a row per predictor, the headline
(``model.infer_with``) marked; ``metrics.json`` keeps the headline's
``summary`` and ``per_case`` at the top level and adds ``headline`` and
``per_predictor``; ``per_case.csv`` gets a ``predictor`` column.
``--infer-with NAME`` scores that predictor alone and makes it the headline.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Tuple

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
    parser.add_argument('--infer-with', choices=['net1', 'net2', 'mean'],
                        help='two-network models: score only this predictor (SN1, SN2 or '
                        'their mean) and report it as the headline; default: all three, '
                        'headline model.infer_with')
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
    from fdpl.evaluation.report import format_predictor_table, format_table, write_metrics
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
    predictors = set_up_predictors(cfg, args.infer_with)
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
    if not is_main_process():  # the metrics are computed on rank 0
        return
    metrics = runner.test_evaluator.metrics
    if predictors:
        from mmengine.model import is_model_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        headline = model.headline_predictor
        per_predictor = {
            name: dict(summary=getattr(m, 'summary', {}), per_case=getattr(m, 'per_case', []))
            for name, m in zip(predictors, metrics)}
        if headline not in per_predictor:
            raise RuntimeError(f'headline predictor {headline!r} was not scored '
                               f'(scored: {list(per_predictor)})')
        summary, per_case = per_predictor[headline]['summary'], per_predictor[headline]['per_case']
        json_path, csv_path = write_metrics(cfg.work_dir, summary, per_case,
                                            per_predictor=per_predictor, headline=headline)
        print(format_predictor_table(per_predictor, headline))
    else:
        metric = metrics[0]
        summary, per_case = getattr(metric, 'summary', {}), getattr(metric, 'per_case', [])
        json_path, csv_path = write_metrics(cfg.work_dir, summary, per_case)
        print(format_table(summary))
    print(f'metrics: {json_path}\nper case: {csv_path}')
    env_path = write_test_record(runner, cfg, args.checkpoint, checkpoint)
    print(f'run record: {env_path}')


def model_predictors(cfg: Config) -> Tuple[str, ...]:
    """Predictor names of the config's model class (``PREDICTORS``; empty for one network)."""
    from mmengine.registry import DefaultScope

    from fdpl.registry import MODELS
    model_type = cfg.model.get('type')
    if isinstance(model_type, str):
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or 'fdpl'):
            model_type = MODELS.get(model_type)
    return tuple(getattr(model_type, 'PREDICTORS', None) or ())


def set_up_predictors(cfg: Config, infer_with: Optional[str] = None) -> Tuple[str, ...]:
    """Make the config score every predictor of its model, or ``infer_with`` alone.

    With several predictors, ``model.test_cfg.predictors`` names them and the
    test evaluator's ``VolumeMetric`` is replaced by one copy per predictor
    (``pred_key='pred_sem_seg_<name>'``, ``prefix=<name>``), in that order,
    before any other metric. ``infer_with`` sets ``model.infer_with``.

    Returns:
        tuple[str, ...]: The predictors scored, in the order of the
        evaluator's first metrics; empty for a one-network model.

    Raises:
        ValueError: ``infer_with`` for a one-network model, or several
            predictors and not exactly one ``VolumeMetric`` to copy.
    """
    predictors = model_predictors(cfg)
    if infer_with is not None:
        if infer_with not in predictors:
            raise ValueError(f'--infer-with {infer_with}: the model {cfg.model.get("type")} '
                             f'has the predictors {list(predictors) or "(one network)"}')
        cfg.model.infer_with = infer_with
        return (infer_with, )
    if len(predictors) < 2:
        return predictors
    cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {}, predictors=list(predictors))
    cfg.test_evaluator = _per_predictor_evaluator(cfg.test_evaluator, predictors)
    return predictors


def _per_predictor_evaluator(evaluator, predictors: Tuple[str, ...]) -> List[dict]:
    metrics = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
    volume = [i for i, m in enumerate(metrics)
              if str(m.get('type', '')).rsplit('.', 1)[-1] == 'VolumeMetric']
    if len(volume) != 1 or 'metrics' in metrics[0]:
        raise ValueError('scoring each predictor needs a test evaluator with one VolumeMetric; '
                         'use --infer-with to score one predictor with this evaluator')
    base = dict(metrics[volume[0]])
    others = [dict(m) for i, m in enumerate(metrics) if i != volume[0]]
    return [dict(base, pred_key=f'pred_sem_seg_{n}', prefix=n) for n in predictors] + others


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
    from fdpl.provenance.run_record import collect_env, file_sha256, write_env_json
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
