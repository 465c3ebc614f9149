# Pancreas-CT (NIH, MC-Net+ preprocessing and split, PROTOCOL.md 1.2) at $FDPL_DATA_ROOT/Pancreas.
# Naming: the list files hold ids 'image00NN' and each case is Pancreas_h5/<id>_norm.h5 (keys
# 'image', 'label'), i.e. `path_template='Pancreas_h5/{}_norm.h5'`, the file names MC-Net+ and
# TraCoCo read. Arrays are stored (x, y, z) like LA's, which LoadH5Volume's default
# axis_order='WHD' expects. The images are already windowed and z-scored: no intensity transform.
# Labeled = first `labeled_num` ids of train.list (6 = 10 %, 12 = 20 %). The last `num_val` = 12
# of its 62 ids are held out for validation (so 44 / 38 unlabeled; the field uses all 62 for
# training and selects on the test list). test.list (20) is for the final table only.
data_root = '{{$FDPL_DATA_ROOT:data}}/Pancreas'
dataset_type = 'H5SegDataset'
path_template = 'Pancreas_h5/{}_norm.h5'
class_names = ('background', 'pancreas')
patch_size = (96, 96, 96)  # (d, h, w)
max_shift = (0, 24, 24)    # room of the context region for shifted crops (P/4)
test_stride = (16, 16, 16)  # classic sliding window (PROTOCOL.md 5)
labeled_num = 6
num_val = 12

# Pancreas: random crop only (no rotation / flip), as in the field
train_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='RandomCrop3D', crop_size=patch_size),
    dict(type='PackVolSegInputs'),
]
unlabeled_pipeline = [
    # the label is loaded for monitoring pseudo-label quality only
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='ContextCrop3D', crop_size=patch_size, max_shift=max_shift),
    dict(type='PackVolSegInputs'),
]
test_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='PackVolSegInputs'),
]

labeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                   path_template=path_template, metainfo=dict(classes=class_names),
                   subset='labeled', labeled_num=labeled_num, num_val=num_val,
                   pipeline=train_pipeline)
unlabeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                     path_template=path_template, metainfo=dict(classes=class_names),
                     subset='unlabeled', labeled_num=labeled_num, num_val=num_val,
                     pipeline=unlabeled_pipeline)

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
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                 path_template=path_template, metainfo=dict(classes=class_names),
                 subset='val', labeled_num=labeled_num, num_val=num_val,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.list',
                 path_template=path_template, metainfo=dict(classes=class_names),
                 subset='all', pipeline=test_pipeline))
val_evaluator = dict(type='VolumeMetric')
test_evaluator = dict(type='VolumeMetric')
