# Supervised-only 3D U-Net on BraTS-2019 with the first 25 ids of train.txt (10 %), batch 4
# labeled 96^3 crops, 30000 iterations: the baseline of configs/fdpl/unet3d_brats2019_10pct.py.
_base_ = [
    '../_base_/datasets/brats2019.py', '../_base_/models/unet3d.py',
    '../_base_/schedules/iters_30k.py', '../_base_/default_runtime.py'
]
labeled_num = 25
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(_base_.labeled_set, labeled_num=labeled_num))
model = dict(test_cfg=dict(patch_size=_base_.patch_size, stride=_base_.test_stride))
