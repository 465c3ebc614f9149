# A tiny FDPL run for the CPU tests: synthetic volumes of 20 x 40 x 40 (10 train ids,
# 2 labeled, 2 held out for validation, 2 test ids), patch 16 x 16 x 16, V-Nets with
# 2 base filters, 4 iterations, no dataloader workers.
_base_ = ['../../../configs/fdpl/vnet_synthetic.py']

data_root = '{{$FDPL_DATA_ROOT:data}}/synthetic_tiny'
generate = dict(num_train=10, num_test=2, shape=(20, 40, 40), seed=0)
patch_size = (16, 16, 16)
max_shift = (0, 4, 4)
labeled_num = 2
num_val = 2
max_iters = 4

train_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='RandomRotFlip3D'),
    dict(type='RandomCrop3D', crop_size=patch_size),
    dict(type='PackVolSegInputs'),
]
unlabeled_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='RandomRotFlip3D'),
    dict(type='ContextCrop3D', crop_size=patch_size, max_shift=max_shift),
    dict(type='PackVolSegInputs'),
]
_common = dict(type='SyntheticLADataset', data_root=data_root, generate=generate,
               ann_file='train.list', labeled_num=labeled_num, num_val=num_val)
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(datasets=[
        dict(_common, subset='labeled', pipeline=train_pipeline),
        dict(_common, subset='unlabeled', pipeline=unlabeled_pipeline),
    ]))
val_dataloader = dict(num_workers=0, dataset=dict(_common, subset='val'))
test_dataloader = dict(
    num_workers=0,
    dataset=dict(type='SyntheticLADataset', data_root=data_root, generate=generate,
                 ann_file='test.list', subset='all'))

model = dict(
    backbone=dict(base_channels=2),
    test_cfg=dict(mode='classic', patch_size=patch_size, stride=(8, 8, 8)),
    semi_train_cfg=dict(schedule=dict(warmup_iters=0, rampup_iters=4, rampup_step=1)))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, by_epoch=False, begin=0,
                        end=max_iters)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=-1))
