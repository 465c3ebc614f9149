"""Time per training iteration: supervised-only versus FDPL, side by side.

Builds the models and the pseudo-label hook of two configs, feeds both the
same random batches of the configs' shapes and times, interleaved in one
run (the machine may be shared and noisy):

* the supervised step (forward, backward, SGD update of one network);
* the FDPL step, split into pseudo-label production (the hook's teacher
  passes, strategies and CUT) and the student step of both sub-networks.

Usage::

    python tools/benchmark_iteration.py SUP_CONFIG FDPL_CONFIG [--iters 5] [--warmup 1]
        [--out benchmark.json] [--deterministic-cost]

``--deterministic-cost`` times every step twice per iteration, with
``torch.use_deterministic_algorithms`` (and cuDNN deterministic, no
benchmark) off and on, alternating which goes first, and reports the ratio:
the measured cost of ``tools/train.py --deterministic``.
"""
import argparse
import json
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope


def _patch_and_shift(cfg: Config):
    """Patch size and context margin of the unlabeled pipeline of a config."""
    for t in cfg.train_dataloader.dataset.datasets[1].pipeline:
        if t['type'] == 'ContextCrop3D':
            return tuple(t['crop_size']), tuple(t['max_shift'])
    raise KeyError('no ContextCrop3D in the unlabeled pipeline of the FDPL config')


def _batch(n_lab: int, n_unl: int, patch, shift, device):
    from fdpl.structures import VolSegDataSample, VoxelData
    inputs, samples = [], []
    for _ in range(n_lab):
        s = VolSegDataSample(metainfo=dict(case_id='l', labeled=True))
        s.gt_sem_seg = VoxelData(data=(torch.rand(1, *patch) > 0.7).long())
        inputs.append(torch.randn(1, *patch))
        samples.append(s)
    ctx = [p + 2 * m for p, m in zip(patch, shift)]
    for _ in range(n_unl):
        s = VolSegDataSample(metainfo=dict(case_id='u', labeled=False, fixed_origin=shift,
                                           fixed_size=patch, max_shift=shift))
        s.context_mask = VoxelData(data=torch.ones(1, *ctx, dtype=torch.uint8))
        inputs.append(torch.randn(1, *ctx))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('sup_config')
    parser.add_argument('fdpl_config')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--out', default=None, help='write the timings as JSON')
    parser.add_argument('--deterministic-cost', action='store_true',
                        help='also time each step with deterministic algorithms on')
    args = parser.parse_args()

    import fdpl  # noqa: F401
    from mmengine.optim import build_optim_wrapper

    from fdpl.registry import HOOKS, MODELS
    init_default_scope('fdpl')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    sup_cfg, semi_cfg = Config.fromfile(args.sup_config), Config.fromfile(args.fdpl_config)
    patch, shift = _patch_and_shift(semi_cfg)
    sampler = semi_cfg.train_dataloader.sampler
    n_lab, n_unl = sampler['labeled_per_batch'], sampler['unlabeled_per_batch']
    sup_batch_size = sup_cfg.train_dataloader.batch_size

    sup = MODELS.build(sup_cfg.model).to(device)
    semi = MODELS.build(semi_cfg.model).to(device)
    sup_optim = build_optim_wrapper(sup, sup_cfg.optim_wrapper)
    semi_optim = build_optim_wrapper(semi, semi_cfg.optim_wrapper)
    hook_cfg = [h for h in semi_cfg.custom_hooks if h['type'] == 'PseudoLabelHook'][0]
    hook = HOOKS.build(hook_cfg)
    hook.generator = torch.Generator().manual_seed(0)
    semi.unsup_weight = 1.0

    def sync():
        if device == 'cuda':
            torch.cuda.synchronize()

    def set_deterministic(on: bool) -> None:
        torch.use_deterministic_algorithms(on)
        torch.backends.cudnn.deterministic = on
        torch.backends.cudnn.benchmark = False

    def one_iteration() -> dict:
        sup.train()
        b = _batch(sup_batch_size, 0, patch, shift, device)
        sync(); t0 = time.perf_counter()
        sup.train_step(b, sup_optim)
        sync(); t_sup = time.perf_counter() - t0

        semi.train()
        b = _batch(n_lab, n_unl, patch, shift, device)
        sync(); t0 = time.perf_counter()
        hook.make_pseudo_labels(semi, b)
        sync(); t1 = time.perf_counter()
        semi.train_step(b, semi_optim)
        sync(); t2 = time.perf_counter()
        return dict(sup_step=t_sup, pseudo_labels=t1 - t0, fdpl_student_step=t2 - t1,
                    fdpl_total=t2 - t0)

    modes = ('', '_det') if args.deterministic_cost else ('', )
    rows = {k + m: [] for m in modes
            for k in ('sup_step', 'pseudo_labels', 'fdpl_student_step', 'fdpl_total')}
    for it in range(args.warmup + args.iters):
        order = modes if it % 2 == 0 else modes[::-1]
        for mode in order:
            set_deterministic(mode == '_det')
            times = one_iteration()
            if it >= args.warmup:
                for k, v in times.items():
                    rows[k + mode].append(v)
            print(f"iter {it}{' deterministic' if mode else ''}: supervised "
                  f"{times['sup_step']:.3f} s | FDPL {times['fdpl_total']:.3f} s "
                  f"(pseudo-labels {times['pseudo_labels']:.3f} s)", flush=True)
    set_deterministic(False)
    med = {k: statistics.median(v) for k, v in rows.items()}
    result = dict(
        device=torch.cuda.get_device_name() if device == 'cuda' else 'cpu',
        threads=torch.get_num_threads(), patch=patch, sup_batch=sup_batch_size,
        fdpl_batch=f'{n_lab}+{n_unl}', median_seconds=med,
        fdpl_over_sup=med['fdpl_total'] / med['sup_step'],
        pseudo_label_share=med['pseudo_labels'] / med['fdpl_total'], samples=rows)
    print(f"\nmedian of {args.iters}: supervised {med['sup_step']:.3f} s/it, FDPL "
          f"{med['fdpl_total']:.3f} s/it (x{result['fdpl_over_sup']:.2f}); pseudo-labels "
          f"{100 * result['pseudo_label_share']:.1f} % of the FDPL iteration")
    if args.deterministic_cost:
        result['deterministic_over_default'] = {
            k: med[k + '_det'] / med[k] for k in ('sup_step', 'fdpl_total')}
        ratio = result['deterministic_over_default']
        print(f"deterministic algorithms: supervised {med['sup_step_det']:.3f} s/it "
              f"(x{ratio['sup_step']:.3f}), FDPL {med['fdpl_total_det']:.3f} s/it "
              f"(x{ratio['fdpl_total']:.3f})")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
