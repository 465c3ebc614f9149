# LA at half resolution for development on CPU: every volume is resampled by 0.5 (linear
# for images, nearest for labels) before cropping; at test time only the image is
# resampled and the prediction is mapped back, so metrics are computed on the stored
# full-resolution labels (voxel units of the original 0.625 mm grid).
_base_ = ['./la.py']
patch_size = (32, 64, 64)  # (d, h, w) at half resolution
max_shift = (0, 16, 16)
train_pipeline = [
    dict(type='CachedCompose', transforms=[  # loaded and resampled once per case
        dict(type='LoadH5Volume', num_classes=2), dict(type='Resample3D', scale=0.5)]),
    dict(type='RandomRotFlip3D'),
    dict(type='RandomCrop3D', crop_size=patch_size),
    dict(type='PackVolSegInputs'),
]
unlabeled_pipeline = [
    dict(type='CachedCompose', transforms=[  # loaded and resampled once per case
        dict(type='LoadH5Volume', num_classes=2), dict(type='Resample3D', scale=0.5)]),
    dict(type='RandomRotFlip3D'),
    dict(type='ContextCrop3D', crop_size=patch_size, max_shift=max_shift),
    dict(type='PackVolSegInputs'),
]
test_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='Resample3D', scale=0.5, keys=('img', )),
    dict(type='PackVolSegInputs'),
]
labeled_set = dict(_base_.labeled_set, pipeline=train_pipeline)
unlabeled_set = dict(_base_.unlabeled_set, pipeline=unlabeled_pipeline)
train_dataloader = dict(
    num_workers=1,
    dataset=dict(type='ConcatDataset', datasets=[labeled_set, unlabeled_set]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
