# Supervised-only V-Net on Pancreas-CT with the first 6 ids of train.list (10 %), batch 4
# labeled 96^3 crops, 10000 iterations: the baseline of configs/fdpl/vnet_pancreas_10pct.py.
_base_ = [
    '../_base_/datasets/pancreas.py', '../_base_/models/vnet.py',
    '../_base_/schedules/iters_10k.py', '../_base_/default_runtime.py'
]
labeled_num = 6
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(_base_.labeled_set, labeled_num=labeled_num))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
# input noise as in configs/fdpl/vnet_pancreas_10pct.py
model = dict(noise=0.05,
             test_cfg=dict(patch_size=_base_.patch_size, stride=_base_.test_stride))
