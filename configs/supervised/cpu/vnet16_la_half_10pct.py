# The CPU testbed on real LA, supervised-only arm: volumes at half resolution, patch
# 32 x 64 x 64, V-Net with 16 base filters, 1500 iterations at a constant lr of 0.01,
# 8 labeled cases (canonical split), batch 4 labeled crops; validation on the 16 held-out
# ids of train.list every 500 iterations, best and last checkpoints kept.
_base_ = [
    '../../_base_/datasets/la_half.py', '../../_base_/models/vnet.py',
    '../../_base_/schedules/iters_9k.py', '../../_base_/default_runtime.py'
]
max_iters = 1500
labeled_num = 8
train_cfg = dict(max_iters=max_iters, val_interval=500)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
# No input noise in any arm of the testbed (the FDPL twin and the full-supervision row
# inherit or repeat this): U(-0.2, 0.2) cost this baseline 4.8 and 7.1 Dice on the development
# split (seeds 0, 2) and gave FDPL -0.55 and +2.38 at its last checkpoint, so keeping it would
# handicap the baseline (docs/results.md, section 3).
model = dict(
    noise=0.0,
    backbone=dict(base_channels=16),
    channels_last=True,  # about 20 % faster on CPU, same results up to rounding
    test_cfg=dict(mode='classic', patch_size=(32, 64, 64), stride=(4, 16, 16)))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=500))
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=_base_.labeled_set)
