# The CPU testbed on real LA, FDPL arm: the network, resolution, schedule and evaluation
# of configs/supervised/cpu/vnet16_la_half_10pct.py; batches of 2 labeled crops and 2
# unlabeled context regions; pseudo-label weight ramped up over the first 40 % of the run.
_base_ = [
    '../../_base_/datasets/la_half.py', '../../_base_/models/vnet_pair.py',
    '../../_base_/schedules/iters_9k.py', '../../_base_/default_runtime.py'
]
max_iters = 1500
labeled_num = 8
train_cfg = dict(max_iters=max_iters, val_interval=500)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
model = dict(
    backbone=dict(base_channels=16),
    channels_last=True,  # about 20 % faster on CPU, same results up to rounding
    test_cfg=dict(mode='classic', patch_size=(32, 64, 64), stride=(4, 16, 16)),
    # no input noise, as in every arm of the testbed (see the supervised-only twin)
    semi_train_cfg=dict(noise=0.0, schedule=dict(rampup_iters=600, rampup_step=15)))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=500))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
