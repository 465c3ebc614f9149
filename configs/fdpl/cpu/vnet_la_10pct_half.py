# FDPL on real LA for development on 2 CPU cores: volumes at half resolution, patch
# 32 x 64 x 64, V-Nets with 8 base filters, 600 iterations, 8 labeled cases; validation
# on the 16 held-out ids of train.list at the end.
_base_ = [
    '../../_base_/datasets/la_half.py', '../../_base_/models/vnet_pair.py',
    '../../_base_/schedules/iters_9k.py', '../../_base_/default_runtime.py'
]
max_iters = 600
labeled_num = 8
# validated once, at the end (validation costs ~1 min here); last-iteration checkpoint
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0,
                        end=max_iters)]
model = dict(
    backbone=dict(base_channels=8),
    test_cfg=dict(mode='classic', patch_size=(32, 64, 64), stride=(4, 16, 16)),
    # ramp-up over the first 40 % of the run (the field's 6000 of 15000)
    semi_train_cfg=dict(schedule=dict(rampup_iters=240, rampup_step=6)))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_iters))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
