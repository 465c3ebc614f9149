# FDPL on the embedded synthetic data (the README's main job, tools/demo.py): 4 labeled and 26
# unlabeled cases of widely varying appearance, patch 16 x 32 x 32, V-Nets with 8 base filters,
# 600 iterations for 2 CPU cores. Both pseudo-label weights at 0.5 (measured better than 1/1 on
# the validation cases, docs/results.md section 2); ramp-up over the first 40 % of the run.
_base_ = [
    '../_base_/datasets/synthetic_la.py', '../_base_/models/vnet_pair.py',
    '../_base_/schedules/iters_9k.py', '../_base_/default_runtime.py'
]
max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=200)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0,
                        end=max_iters)]
model = dict(
    backbone=dict(base_channels=8),
    test_cfg=dict(mode='classic', patch_size=(16, 32, 32), stride=(8, 16, 16)),
    semi_train_cfg=dict(unsup_weights=dict(fix=0.5, dyn=0.5),
                        schedule=dict(warmup_iters=0, rampup_iters=240, rampup_step=10)))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_iters))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
