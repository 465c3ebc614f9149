"""Classic versus fast sliding-window inference: time per case and Dice, side by side.

Loads a checkpoint, then for each case of the config's validation (or test)
split runs both modes back to back on the same volume:

* ``classic``: the field's protocol (fixed strides, uniform averaging,
  one window per forward);
* ``fast``: overlap fraction + Gaussian weighting + several windows per
  forward (``--overlap``, ``--sw-batch-size``).

Usage::

    python tools/benchmark_sliding_window.py CONFIG CHECKPOINT [--split val|test]
        [--cases 4] [--overlap 0.5] [--sw-batch-size 4] [--out result.json]
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', choices=['val', 'test'], default='val')
    parser.add_argument('--cases', type=int, default=4)
    parser.add_argument('--overlap', type=float, default=0.5)
    parser.add_argument('--sw-batch-size', type=int, default=4)
    parser.add_argument('--out', default=None)
    args = parser.parse_args()

    import fdpl  # noqa: F401
    from mmengine.dataset import pseudo_collate

    from fdpl.engine.checkpoint import load_checkpoint_safe
    from fdpl.evaluation import binary_metrics
    from fdpl.registry import DATASETS, MODELS
    init_default_scope('fdpl')
    cfg = Config.fromfile(args.config)
    model = MODELS.build(cfg.model)
    state = load_checkpoint_safe(args.checkpoint)
    model.load_state_dict(state.get('state_dict', state))
    model.eval()
    loader_cfg = cfg.val_dataloader if args.split == 'val' else cfg.test_dataloader
    dataset = DATASETS.build(loader_cfg.dataset)
    modes = dict(
        classic=dict(mode='classic', stride=cfg.model.test_cfg.get('stride'), sw_batch_size=1),
        fast=dict(mode='gaussian', stride=None, overlap=args.overlap,
                  sw_batch_size=args.sw_batch_size))
    rows = []
    base_cfg = dict(model.test_cfg)
    for i in range(min(args.cases, len(dataset))):
        data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
        sample = data['data_samples'][0]
        gt = sample.gt_sem_seg.data[0].numpy() > 0
        row = dict(case_id=sample.metainfo.get('case_id'))
        for name, opts in modes.items():
            model.test_cfg = {**base_cfg, **opts}
            t0 = time.perf_counter()
            with torch.no_grad():
                out = model.predict(data['inputs'], [sample.clone()])[0]
            row[f'{name}_seconds'] = time.perf_counter() - t0
            pred = out.pred_sem_seg.data[0].numpy() > 0
            row[f'{name}_dice'] = 100 * binary_metrics(pred, gt)['dice']
        rows.append(row)
        print(f"{row['case_id']}: classic {row['classic_seconds']:.2f} s Dice "
              f"{row['classic_dice']:.2f} | fast {row['fast_seconds']:.2f} s Dice "
              f"{row['fast_dice']:.2f}", flush=True)
    summary = {k: statistics.mean(r[k] for r in rows) for k in rows[0] if k != 'case_id'}
    summary['speedup'] = summary['classic_seconds'] / summary['fast_seconds']
    print('\n| mode | s / case | Dice % |\n|---|---|---|')
    for name in modes:
        print(f"| {name} | {summary[f'{name}_seconds']:.2f} | {summary[f'{name}_dice']:.2f} |")
    print(f"fast is x{summary['speedup']:.2f} faster (mean over {len(rows)} cases, "
          f"threads={torch.get_num_threads()})")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows=rows, summary=summary, overlap=args.overlap,
                           sw_batch_size=args.sw_batch_size,
                           classic_stride=modes['classic']['stride']), f, indent=2,
                      default=lambda o: o.item() if isinstance(o, np.generic) else str(o))


if __name__ == '__main__':
    main()
