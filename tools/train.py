"""Train a segmentor from a config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an fdpl segmentor')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from a checkpoint; without a path, from the latest one '
                        'in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (float16, mmengine AmpOptimWrapper); '
                        'needs a CUDA GPU')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms where torch has them (and cuDNN '
                        'deterministic, no benchmark); dataloader workers are always seeded '
                        'from the run seed. Sets randomness.deterministic=True')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    import torch

    import fdpl  # noqa: F401  (registers modules and safe checkpoint loading)
    from fdpl.utils import (add_cwd_to_path, check_cfg_options, check_config,
                            plot_work_dir_curves, setup_cpu_distributed)
    add_cwd_to_path()  # custom_imports such as 'projects.<name>.<pkg>' resolve from here
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'Config file {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        check_cfg_options(args.cfg_options)  # an option that would change nothing fails here
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.deterministic:
        cfg.randomness = dict(cfg.get('randomness') or {}, deterministic=True)
        cfg.env_cfg = dict(cfg.get('env_cfg') or {}, cudnn_benchmark=False)
    if cfg.get('randomness', {}).get('deterministic'):
        # cuBLAS needs a fixed workspace for deterministic matrix products on CUDA
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    if args.amp:
        if not torch.cuda.is_available():
            raise RuntimeError(
                '--amp needs a CUDA GPU (float16 with loss scaling). fdpl does not offer '
                'bfloat16 training on the CPU: with torch 2.13 the weight gradients of bfloat16 3D '
                'convolutions come out wrong on feature maps of depth 2, the V-Net bottleneck of '
                'a 32 x 64 x 64 patch (python tools/benchmark_bfloat16.py; docs/results.md). '
                'Train without --amp.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    check_config(cfg)  # also derives ContextCrop3D's margin from model.semi_train_cfg.shift
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    plot_work_dir_curves(runner.log_dir)


if __name__ == '__main__':
    main()
