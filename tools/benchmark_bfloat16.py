"""Is bfloat16 autocast worth it on this CPU? Speed and correctness of a V-Net step.

``python tools/benchmark_bfloat16.py [--base-channels 16] [--patch 32 64 64] [--batch 4]
[--threads N] [--repeats 3] [--out FILE.json]``

Three measurements, side by side in one process:

1. **Speed**: forward + backward of a V-Net (channels-last weights, the
   layout fdpl's CPU testbed uses) in float32 and under
   ``torch.autocast('cpu', dtype=torch.bfloat16)``, median of ``--repeats``.
2. **One convolution's weight gradient**: a 3 x 3 x 3 convolution (32 -> 32
   channels, batch 2) on feature maps of several shapes, bfloat16 against
   float32, the worst relative error of 3 tries. Rounding alone gives about
   0.4 %; a larger error is a defect of the kernels, not of bfloat16.
3. **The network's gradient and labels**: cosine similarity of the whole
   V-Net gradient (dropout off, same weights and batch) between bfloat16 and
   float32, and the share of voxels whose eval-mode argmax differs (what a
   teacher under autocast would change).

Why it exists: on a processor with native bfloat16 (AVX512-BF16) the step is
about 2x faster, but with torch 2.13 the weight gradient of a bfloat16 3D
convolution is wrong (or not finite) on feature maps of depth 2, which is the
V-Net bottleneck of a 32 x 64 x 64 patch; so ``tools/train.py --amp`` is for
GPUs only. Run it again after a torch upgrade.
"""
import argparse
import json
import statistics
import time
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

SHAPES = ((1, 4, 4), (2, 2, 2), (2, 4, 4), (3, 4, 4), (4, 8, 8))


def conv_grad_error(shape: Sequence[int], channels: int = 32, tries: int = 3) -> float:
    """Worst relative error of a bfloat16 conv3d weight gradient, (2, C, *shape) input."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, channels, *shape, generator=g)
    w = (torch.randn(channels, channels, 3, 3, 3, generator=g) * 0.05).requires_grad_()
    F.conv3d(x, w, padding=1).pow(2).mean().backward()
    ref, worst = w.grad.clone(), 0.0
    for _ in range(tries):
        w.grad = None
        with torch.autocast('cpu', dtype=torch.bfloat16):
            y = F.conv3d(x, w, padding=1)
        y.float().pow(2).mean().backward()
        err = ((w.grad - ref).norm() / ref.norm()).item()
        worst = max(worst, err if err == err else float('inf'))  # NaN counts as inf
    return worst


def _vnet(base_channels: int):
    import fdpl.models  # noqa: F401  (registers the V-Net)
    from fdpl.registry import MODELS
    torch.manual_seed(0)
    net = MODELS.build(dict(type='VNet', in_channels=1, num_classes=2,
                            base_channels=base_channels))
    return net.to(memory_format=torch.channels_last_3d)


def _step(net, x, target, bf16: bool) -> Tuple[float, Dict[str, torch.Tensor]]:
    from fdpl.models.losses import CEDiceLoss
    net.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        loss = CEDiceLoss(num_classes=2)(net(x), target)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in net.named_parameters()
                         if p.grad is not None}


def measure(base_channels: int, patch: Sequence[int], batch: int, repeats: int) -> dict:
    net = _vnet(base_channels)
    x = torch.randn(batch, 1, *patch).contiguous(memory_format=torch.channels_last_3d)
    target = (x[:, 0] > 0.5).long()
    times: Dict[str, List[float]] = {'float32': [], 'bfloat16': []}
    for _ in range(repeats + 1):  # the first round warms up
        for name in times:
            t = time.perf_counter()
            _step(net, x, target, name == 'bfloat16')
            times[name].append(time.perf_counter() - t)
    speed = {k: statistics.median(v[1:]) for k, v in times.items()}

    for m in net.modules():  # the same function in both precisions
        if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout3d)):
            m.p = 0.0
    _, g32 = _step(net, x, target, False)
    _, g16 = _step(net, x, target, True)
    a = torch.cat([g32[n].flatten() for n in g32])
    b = torch.cat([g16[n].flatten() for n in g32])
    net.eval()
    with torch.no_grad():
        p32 = net(x).argmax(1)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            p16 = net(x).argmax(1)
    return dict(
        base_channels=base_channels, patch=list(patch), batch=batch,
        step_s=speed, speedup=speed['float32'] / speed['bfloat16'],
        grad_cosine=F.cosine_similarity(a, b, dim=0).item(),
        grad_finite=bool(torch.isfinite(b).all()),
        argmax_differ=(p32 != p16).float().mean().item(),
        conv_grad_error={'x'.join(map(str, s)): conv_grad_error(s) for s in SHAPES})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--base-channels', type=int, default=16)
    parser.add_argument('--patch', type=int, nargs=3, default=(32, 64, 64),
                        metavar=('D', 'H', 'W'))
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--threads', type=int, help='torch threads (default: torch\'s)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--out', help='write the figures as JSON here')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    res = measure(args.base_channels, args.patch, args.batch, args.repeats)
    res.update(torch=torch.__version__, threads=torch.get_num_threads(), native_bf16=native)
    print(f'torch {res["torch"]}, {res["threads"]} thread(s), native bfloat16: {native}')
    print(f'V-Net {args.base_channels} filters, batch {args.batch} x {tuple(args.patch)}, '
          'forward + backward, channels-last:')
    print(f'  float32 {res["step_s"]["float32"]:.3f} s, bfloat16 {res["step_s"]["bfloat16"]:.3f} s'
          f' -> x{res["speedup"]:.2f}')
    print(f'  gradient cosine bfloat16 vs float32: {res["grad_cosine"]:.3f} '
          f'(finite: {res["grad_finite"]}); eval argmax differs on '
          f'{100 * res["argmax_differ"]:.3f} % of voxels')
    print('conv3d weight-gradient error, bfloat16 vs float32 (rounding alone ~0.004):')
    print('| feature map (D x H x W) | worst relative error of 3 tries |')
    print('|---|---|')
    for shape, err in res['conv_grad_error'].items():
        print(f'| {shape} | {err:.4f} |')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(res, f, indent=2)


if __name__ == '__main__':
    main()
