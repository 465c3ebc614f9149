# Your own NIfTI data (docs/custom_data.md): a manifest written by tools/convert_nifti_folder.py
# and a split file written by tools/make_splits.py, read by ManifestDataset. Every setting a
# user changes comes from the environment, so that it reaches all four datasets and the model
# (a top-level variable changed with --cfg-options would not):
#   FDPL_MANIFEST      manifest.json                     (default data/custom/manifest.json)
#   FDPL_SPLIT         split JSON                        (default data/custom/split.json)
#   FDPL_NUM_CLASSES   classes, background included     (default 2)
#   FDPL_IN_CHANNELS   modalities per case               (default 1)
#   FDPL_PATCH_SIZE    training patch d,h,w; multiples of 16 for the V-Net (default 64,96,96)
# Relative paths are taken from the folder the command runs in.
dataset_type = 'ManifestDataset'
manifest_file = '{{$FDPL_MANIFEST:data/custom/manifest.json}}'
split_file = '{{$FDPL_SPLIT:data/custom/split.json}}'
num_classes = int('{{$FDPL_NUM_CLASSES:2}}')
in_channels = int('{{$FDPL_IN_CHANNELS:1}}')
patch_size = tuple(int(v) for v in '{{$FDPL_PATCH_SIZE:64,96,96}}'.split(','))  # (d, h, w)
max_shift = (0, patch_size[1] // 4, patch_size[2] // 4)  # context room for shifted crops (P/4)
test_stride = tuple(max(1, p // 2) for p in patch_size)  # sliding window, 50 % overlap
# Per-case z-score of every channel. For CT use e.g.
# dict(type='NormalizeIntensity', mode='window', window=(40, 400)).
normalize = dict(type='NormalizeIntensity', mode='zscore')

train_pipeline = [
    dict(type='LoadNiftiVolume', num_classes=num_classes),
    normalize,
    dict(type='RandomRotFlip3D'),
    dict(type='RandomCrop3D', crop_size=patch_size),
    dict(type='PackVolSegInputs'),
]
unlabeled_pipeline = [
    # a label, if the case has one, is loaded for monitoring pseudo-label quality only
    dict(type='LoadNiftiVolume', num_classes=num_classes),
    normalize,
    dict(type='RandomRotFlip3D'),
    dict(type='ContextCrop3D', crop_size=patch_size, max_shift=max_shift),
    dict(type='PackVolSegInputs'),
]
test_pipeline = [
    dict(type='LoadNiftiVolume', num_classes=num_classes),
    normalize,
    dict(type='PackVolSegInputs'),
]

labeled_set = dict(type=dataset_type, manifest_file=manifest_file, split_file=split_file,
                   subset='labeled', num_classes=num_classes, pipeline=train_pipeline)
unlabeled_set = dict(type=dataset_type, manifest_file=manifest_file, split_file=split_file,
                     subset='unlabeled', num_classes=num_classes, pipeline=unlabeled_pipeline)

# two-stream batches: 2 labeled crops + 2 unlabeled context regions
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='TwoStreamSampler', labeled_per_batch=2, unlabeled_per_batch=2),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='ConcatDataset', datasets=[labeled_set, unlabeled_set]))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, manifest_file=manifest_file, split_file=split_file,
                 subset='val', num_classes=num_classes, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, manifest_file=manifest_file, split_file=split_file,
                 subset='test', num_classes=num_classes, pipeline=test_pipeline))
# every foreground class is scored; surface distances in mm from the NIfTI headers
val_evaluator = dict(type='VolumeMetric', classes=tuple(range(1, num_classes)), spacing_mode='mm')
test_evaluator = val_evaluator
# the metric the best checkpoint is chosen by (several classes: keys get a '_cls<k>' suffix)
best_metric = 'dice' if num_classes == 2 else 'dice_cls1'
