# Left Atrium (UA-MT's h5 release, PROTOCOL.md 1.1) at $FDPL_DATA_ROOT/LA.
# The case ids come from a split file (docs/data.md, "Split files"): the canonical
# split labels the first `labeled_num` ids of train.list, holds out its last `num_val`
# ids for validation (DATA.md) and tests on test.list (for the final table only).
# Files for 4 / 8 / 16 labeled cases (canonical and split seeds 0 1 2) are in
# configs/_base_/splits/la/; a child config picks one with
# `split_file = _base_.split_dir + '/la_labeled4_canonical.json'` (labeled_num must agree).
data_root = '{{$FDPL_DATA_ROOT:data}}/LA'
dataset_type = 'LADataset'
patch_size = (80, 112, 112)  # (d, h, w)
max_shift = (0, 28, 28)      # room of the context region for shifted crops (P/4)
labeled_num = 8
num_val = 16
split_dir = '{{fileDirname}}/../splits/la'
split_file = '{{fileDirname}}/../splits/la/la_labeled8_canonical.json'

# CachedCompose: each case is read from its gzip-compressed h5 file once per dataloader
# worker and kept in memory (bounded by max_mib, least recently used dropped first)
train_pipeline = [
    dict(type='CachedCompose', transforms=[dict(type='LoadH5Volume', num_classes=2)]),
    dict(type='RandomRotFlip3D'),
    dict(type='RandomCrop3D', crop_size=patch_size),
    dict(type='PackVolSegInputs'),
]
unlabeled_pipeline = [
    # the label is loaded for monitoring pseudo-label quality only
    dict(type='CachedCompose', transforms=[dict(type='LoadH5Volume', num_classes=2)]),
    dict(type='RandomRotFlip3D'),
    dict(type='ContextCrop3D', crop_size=patch_size, max_shift=max_shift),
    dict(type='PackVolSegInputs'),
]
test_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='PackVolSegInputs'),
]

# ann_file is not read while split_file is set (it is the fallback for split_file=None)
labeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                   split_file=split_file, subset='labeled', labeled_num=labeled_num,
                   num_val=num_val, pipeline=train_pipeline)
unlabeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                     split_file=split_file, subset='unlabeled', labeled_num=labeled_num,
                     num_val=num_val, pipeline=unlabeled_pipeline)

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
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.list', subset='val',
                 split_file=split_file, labeled_num=labeled_num, num_val=num_val,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split_file=split_file, subset='test',
                 pipeline=test_pipeline))
val_evaluator = dict(type='VolumeMetric')
test_evaluator = dict(type='VolumeMetric')
