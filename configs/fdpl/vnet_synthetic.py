# FDPL on the embedded synthetic data (the README's main job): 4 labeled, 16 unlabeled,
# patch 16 x 48 x 48, a V-Net with 8 base filters, short schedule for 2 CPU cores.
_base_ = [
    '../_base_/datasets/synthetic_la.py', '../_base_/models/vnet_pair.py',
    '../_base_/schedules/iters_9k.py', '../_base_/default_runtime.py'
]
max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=100)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0,
                        end=max_iters)]
model = dict(
    backbone=dict(base_channels=8),
    test_cfg=dict(mode='classic', patch_size=(16, 48, 48), stride=(4, 8, 8)))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=100))
pseudo_label_hook = dict(_base_.pseudo_label_hook, warmup_iters=0, rampup_iters=120,
                         rampup_step=10)
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
