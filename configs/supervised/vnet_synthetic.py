# Supervised-only baseline of configs/fdpl/vnet_synthetic.py: the same 4 labeled cases,
# iterations, network, input noise and evaluation; batch 4 labeled crops.
_base_ = [
    '../_base_/datasets/synthetic_la.py', '../_base_/models/vnet.py',
    '../_base_/schedules/iters_9k.py', '../_base_/default_runtime.py'
]
max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=200)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0,
                        end=max_iters)]
model = dict(
    backbone=dict(base_channels=8),
    test_cfg=dict(mode='classic', patch_size=(16, 32, 32), stride=(8, 16, 16)))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_iters))
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=1, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=_base_.labeled_set)
