# Supervised-only baseline of configs/fdpl/custom_nifti.py: one V-Net on the same labeled cases
# (the split's labeled part), same iterations, patch and evaluation; batch of 4 labeled crops.
# Data settings come from the environment variables of configs/_base_/datasets/custom_nifti.py.
_base_ = [
    '../_base_/datasets/custom_nifti.py', '../_base_/models/vnet.py',
    '../_base_/schedules/iters_3k.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(in_channels=_base_.in_channels, num_classes=_base_.num_classes,
                  base_channels=16),
    loss=dict(num_classes=_base_.num_classes),
    test_cfg=dict(mode='classic', patch_size=_base_.patch_size, stride=_base_.test_stride))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=_base_.val_interval,
                                     save_best=_base_.best_metric))
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=_base_.labeled_set)
