"""Inference modes side by side: time per case and Dice (classic, fast, whole, MONAI).

Loads one or more checkpoints (or none: random weights, for timing only),
then for each case of the config's validation (or test) split runs every
requested mode on the same volume, interleaved (the order rotates from case
to case and repeat to repeat, so a shared, noisy machine hits all modes
alike). Each mode goes through the model's ``predict`` (test pipeline
inverted, labels in the stored geometry), so the Dice is the one
``tools/test.py`` would report.

Modes (``--modes``; ``NAME@OVERLAP`` sets the overlap of a windowed mode):

* ``classic``: the field's protocol (the config's strides, uniform
  averaging, one window per forward, the network as it is);
  ``classic_fast``: the same windows and averaging, ``--sw-batch-size``
  windows per forward and the fast layout (same labels up to float
  rounding, for Dice runs where classic's time is not the question);
* ``gaussian``: Gaussian weighting at ``--overlap``, one window per forward,
  the network as it is (fdpl's former fast path);
* ``fast``: the same windows, ``--sw-batch-size`` windows per forward and
  the network in its fast layout (:func:`fdpl.inference.fast_predictor`:
  BatchNorm folded, channels-last weights on CPU);
* ``whole``: one forward over the whole volume padded to a multiple of 16,
  fast layout; ``whole_plain``: the same with the network as it is;
* ``monai``: MONAI's ``sliding_window_inference`` (Gaussian, ``--overlap``,
  its default ``sw_batch_size=1``, the network as it is), when MONAI is
  installed; ``monai_fast``: MONAI's function given fdpl's fast layout and
  ``--sw-batch-size``, to show where the speed comes from;
* ``key=value,...``: any ``test_cfg`` entries, e.g. ``mode=gaussian,stride=4x16x16``
  (Gaussian weights at the classic windows) or ``mode=classic,stride=none,overlap=0.5``
  (uniform weights at the Gaussian mode's spacing), fast layout unless
  ``fast_predictor=false``.

Usage::

    python tools/benchmark_sliding_window.py CONFIG [CHECKPOINT ...] [--split val|test]
        [--cases 4] [--case-ids ID ...] [--modes classic fast whole monai]
        [--overlap 0.5] [--sw-batch-size 4] [--repeats 1] [--threads 2] [--out result.json]
"""
import argparse
import json
import statistics
import time
import types
from contextlib import nullcontext
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

_PRESETS = ('classic', 'classic_fast', 'gaussian', 'fast', 'whole', 'whole_plain', 'monai',
            'monai_fast')
_DESCRIPTIONS = dict(
    classic='fixed strides {stride}, uniform, 1 window/forward',
    classic_fast='fixed strides {stride}, uniform, {sw} windows/forward, fast layout',
    gaussian='Gaussian, overlap {overlap}, 1 window/forward',
    fast='Gaussian, overlap {overlap}, {sw} windows/forward, fast layout',
    whole='one forward, padded to x16, fast layout',
    whole_plain='one forward, padded to x16',
    monai='MONAI 1.x, Gaussian, overlap {overlap}, sw_batch_size 1',
    monai_fast='MONAI, Gaussian, overlap {overlap}, {sw} windows/forward, fast layout')


def parse_mode(spec: str, overlap: float, sw_batch_size: int, classic_stride) -> dict:
    """Settings of a ``--modes`` entry (``NAME``, ``NAME@OVERLAP`` or ``key=value,...``)."""
    if '=' in spec:
        return _custom_mode(spec, sw_batch_size)
    name, _, value = spec.partition('@')
    if name not in _PRESETS:
        raise ValueError(f'unknown mode {name!r}; choose from {_PRESETS}')
    if value:
        if name in ('classic', 'classic_fast', 'whole', 'whole_plain'):
            raise ValueError(f'{name} takes no overlap')
        overlap = float(value)
    test_cfg = dict(
        classic=dict(mode='classic', stride=classic_stride, sw_batch_size=1,
                     fast_predictor=False),
        classic_fast=dict(mode='classic', stride=classic_stride, sw_batch_size=sw_batch_size,
                          fast_predictor=True),
        gaussian=dict(mode='gaussian', stride=None, overlap=overlap, sw_batch_size=1,
                      fast_predictor=False),
        fast=dict(mode='gaussian', stride=None, overlap=overlap, sw_batch_size=sw_batch_size,
                  fast_predictor=True),
        whole=dict(mode='whole', fast_predictor=True),
        whole_plain=dict(mode='whole', fast_predictor=False),
        monai=dict(overlap=overlap, sw_batch_size=1, fast_predictor=False),
        monai_fast=dict(overlap=overlap, sw_batch_size=sw_batch_size, fast_predictor=True),
    )[name]
    sw = test_cfg.get('sw_batch_size', 1)
    stride = tuple(classic_stride) if classic_stride is not None else None
    return dict(name=spec, preset=name, test_cfg=test_cfg, monai=name.startswith('monai'),
                settings=_DESCRIPTIONS[name].format(stride=stride, overlap=overlap, sw=sw))


def _custom_mode(spec: str, sw_batch_size: int) -> dict:
    """``test_cfg`` entries written ``key=value`` joined by commas, e.g.
    ``mode=gaussian,stride=4x16x16``; ``AxBxC`` is a triple, ``none`` None.
    Unless given, ``sw_batch_size`` is ``--sw-batch-size`` and the fast layout
    is on."""
    test_cfg = dict(sw_batch_size=sw_batch_size, fast_predictor=True)
    for item in spec.split(','):
        key, _, raw = item.partition('=')
        if raw.lower() in ('none', 'true', 'false'):
            value = dict(none=None, true=True, false=False)[raw.lower()]
        elif 'x' in raw:
            value = tuple(int(v) for v in raw.split('x'))
        else:
            value = float(raw) if '.' in raw else int(raw) if raw.isdigit() else raw
        test_cfg[key] = value
    if test_cfg.get('mode') == 'gaussian':
        test_cfg.setdefault('stride', None)
    return dict(name=spec, preset='custom', test_cfg=test_cfg, monai=False, settings=spec)


def _monai_slide_probs(model, overlap: float, sw_batch_size: int, fast: bool):
    """A ``slide_probs`` for ``model`` that calls MONAI's sliding window."""
    from monai.inferers import sliding_window_inference as monai_sliding_window

    from fdpl.inference import fast_predictor

    def slide_probs(self, volume, predictor=None):
        predictor = predictor or self.inference_predictor()
        with fast_predictor(self) if fast else nullcontext():
            out = monai_sliding_window(
                volume, tuple(self.test_cfg['patch_size']), sw_batch_size, predictor,
                overlap=overlap, mode='gaussian')
        return torch.as_tensor(out)

    return types.MethodType(slide_probs, model)


def dice(pred: np.ndarray, gt: np.ndarray) -> float:
    """Dice in % of two binary masks (medpy's ``dc``; 0 when both are empty)."""
    inter = np.count_nonzero(pred & gt)
    total = np.count_nonzero(pred) + np.count_nonzero(gt)
    return 200.0 * inter / total if total else 0.0


def run_checkpoint(cfg: Config, checkpoint: Optional[str], dataset, indices: List[int],
                   modes: List[dict], repeats: int, references: List[str]) -> List[dict]:
    """Rows (one per case) with time, Dice and label differences per mode."""
    from mmengine.dataset import pseudo_collate

    from fdpl.engine.checkpoint import load_checkpoint_safe
    from fdpl.registry import MODELS
    model = MODELS.build(cfg.model)
    if checkpoint:
        state = load_checkpoint_safe(checkpoint)
        model.load_state_dict(state.get('state_dict', state))
    model.eval()
    base_cfg = dict(model.test_cfg)
    rows = []
    for k, i in enumerate(indices):
        data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
        sample = data['data_samples'][0]
        gt = sample.gt_sem_seg.data[0].numpy() > 0
        row = dict(checkpoint=checkpoint or 'random init', case_id=sample.metainfo.get('case_id'),
                   shape=list(data['inputs'].shape[2:]))
        times: Dict[str, List[float]] = {m['name']: [] for m in modes}
        labels = {}
        for r in range(repeats):
            shift = (k + r) % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                model.test_cfg = {**base_cfg, **mode['test_cfg']}
                if mode['monai']:
                    model.slide_probs = _monai_slide_probs(
                        model, mode['test_cfg']['overlap'], mode['test_cfg']['sw_batch_size'],
                        mode['test_cfg']['fast_predictor'])
                t0 = time.perf_counter()
                with torch.no_grad():
                    out = model.predict(data['inputs'], [sample.clone()])[0]
                times[mode['name']].append(time.perf_counter() - t0)
                if mode['monai']:
                    del model.slide_probs
                labels[mode['name']] = out.pred_sem_seg.data[0].numpy() > 0
        for name, pred in labels.items():
            row[f'{name}_seconds'] = statistics.median(times[name])
            row[f'{name}_dice'] = dice(pred, gt)
            for ref in references:
                row[f'{name}_voxels_differing_from_{ref}'] = int(
                    np.count_nonzero(pred != labels[ref]))
        rows.append(row)
        print(f"{row['case_id']} {tuple(row['shape'])}: " + ' | '.join(
            f"{m['name']} {row[m['name'] + '_seconds']:.2f} s {row[m['name'] + '_dice']:.2f}"
            for m in modes), flush=True)
    model.test_cfg = base_cfg
    return rows


def summarize(rows: List[dict], modes: List[dict], references: List[str]) -> Dict[str, dict]:
    """Mean time, Dice and label differences per mode over ``rows``."""
    out = {}
    for m in modes:
        name = m['name']
        entry = dict(settings=m['settings'],
                     seconds=statistics.mean(r[f'{name}_seconds'] for r in rows),
                     dice=statistics.mean(r[f'{name}_dice'] for r in rows))
        for ref in references:
            entry[f'voxels_differing_from_{ref}'] = sum(
                r[f'{name}_voxels_differing_from_{ref}'] for r in rows)
        out[name] = entry
    return out


def format_table(summary: Dict[str, dict], references: List[str], num_cases: int) -> str:
    """Markdown table of a summary, with speed ratios and Dice differences."""
    names = list(summary)
    classic = summary.get('classic') or summary.get('classic_fast')
    whole = summary.get('whole')
    monai = summary.get('monai')
    head = ['mode', 'settings', 's / case', 'Dice %']
    if classic:
        head.append('Dice - classic')
    if monai:
        head.append('speed vs monai')
    if whole:
        head.append('time / whole')
    for ref in references:
        head.append(f'voxels != {ref} ({num_cases} cases)')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name in names:
        e = summary[name]
        cells = [name, e['settings'], f"{e['seconds']:.2f}", f"{e['dice']:.2f}"]
        if classic:
            cells.append(f"{e['dice'] - classic['dice']:+.2f}")
        if monai:
            cells.append(f"x{monai['seconds'] / e['seconds']:.2f}")
        if whole:
            cells.append(f"{e['seconds'] / whole['seconds']:.2f}")
        for ref in references:
            cells.append(str(e[f'voxels_differing_from_{ref}']))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoints', nargs='*',
                        help='checkpoint files; none: random weights (timing only)')
    parser.add_argument('--split', choices=['val', 'test'], default='val')
    parser.add_argument('--cases', type=int, default=4, help='first N cases of the split')
    parser.add_argument('--case-ids', nargs='+', default=None, help='these cases instead')
    parser.add_argument('--modes', nargs='+', default=['classic', 'fast', 'whole', 'monai'])
    parser.add_argument('--overlap', type=float, default=0.5)
    parser.add_argument('--sw-batch-size', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=1, help='median over repeats per case')
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--reference', nargs='+', default=None,
                        help='count voxels whose label differs from this mode '
                        '(default: monai if run, else none)')
    parser.add_argument('--out', default=None, help='write rows and summaries as JSON')
    args = parser.parse_args()

    import fdpl  # noqa: F401
    from fdpl.registry import DATASETS
    init_default_scope('fdpl')
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    classic_stride = cfg.model.test_cfg.get('stride')
    modes = [parse_mode(s, args.overlap, args.sw_batch_size, classic_stride) for s in args.modes]
    if any(m['monai'] for m in modes):
        try:
            import monai
        except ImportError:
            print('MONAI is not installed: its modes are skipped (pip install monai==1.4.0)')
            modes = [m for m in modes if not m['monai']]
        else:
            print(f'MONAI {monai.__version__}')
    names = [m['name'] for m in modes]
    references = args.reference or (['monai'] if 'monai' in names else [])
    missing = [r for r in references if r not in names]
    if missing:
        raise ValueError(f'--reference {missing} not among --modes {names}')

    loader_cfg = cfg.val_dataloader if args.split == 'val' else cfg.test_dataloader
    dataset = DATASETS.build(loader_cfg.dataset)
    if args.case_ids:
        ids = [dataset.get_data_info(i).get('case_id') for i in range(len(dataset))]
        missing = [c for c in args.case_ids if c not in ids]
        if missing:
            raise ValueError(f'cases {missing} are not in the {args.split} split')
        indices = [ids.index(c) for c in args.case_ids]
    else:
        indices = list(range(min(args.cases, len(dataset))))

    all_rows, per_checkpoint = [], {}
    for checkpoint in args.checkpoints or [None]:
        rows = run_checkpoint(cfg, checkpoint, dataset, indices, modes, args.repeats, references)
        all_rows += rows
        summary = summarize(rows, modes, references)
        per_checkpoint[checkpoint or 'random init'] = summary
        print(f'\n{checkpoint or "random weights (timing only)"}, {len(rows)} cases, '
              f'threads={torch.get_num_threads()}:')
        print(format_table(summary, references, len(rows)))
    overall = summarize(all_rows, modes, references)
    if len(per_checkpoint) > 1:
        print(f'\nall {len(per_checkpoint)} checkpoints, {len(all_rows)} case runs:')
        print(format_table(overall, references, len(all_rows)))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, split=args.split, modes=modes,
                           threads=torch.get_num_threads(), overlap=args.overlap,
                           sw_batch_size=args.sw_batch_size, repeats=args.repeats,
                           rows=all_rows, per_checkpoint=per_checkpoint, summary=overall),
                      f, indent=2,
                      default=lambda o: o.item() if isinstance(o, np.generic) else str(o))


if __name__ == '__main__':
    main()
