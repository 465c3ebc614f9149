# BraTS-2019 as in SSL4MIS (PROTOCOL.md 1.3): FLAIR only, whole tumour (label > 0) vs background,
# at $FDPL_DATA_ROOT/BraTS2019 with the lists train.txt (250), val.txt (25), test.txt (60) and one
# file per case, data/<case>.h5 (keys 'image', 'label'): the SSL4MIS release, or the output of
# tools/convert_brats.py (which writes data/<case>.h5 too). Images are already z-scored.
# Labeled = first `labeled_num` ids of train.txt (25 = 10 %, 50 = 20 %); val.txt is the
# validation list (each split has its own list file, so num_val = 0); test.txt for the final table.
# Axes: the field rotates / flips the first two stored axes; LoadH5Volume's default
# axis_order='WHD' maps those to (W, H), so RandomRotFlip3D and the in-plane shifts act on the
# same plane whatever order the files were written in. The 96^3 patch and the stride are cubic.
data_root = '{{$FDPL_DATA_ROOT:data}}/BraTS2019'
dataset_type = 'H5SegDataset'
path_template = 'data/{}.h5'
class_names = ('background', 'whole_tumour')
patch_size = (96, 96, 96)  # (d, h, w)
max_shift = (0, 24, 24)    # room of the context region for shifted crops (P/4)
# Sliding-window stride: TraCoCo's 16 (SSL4MIS uses 64). We pick 16 because TraCoCo's BraTS rows
# are the reference of PROTOCOL.md 9; set model.test_cfg.stride=(64, 64, 64) for SSL4MIS's.
test_stride = (16, 16, 16)
labeled_num = 25
num_val = 0

train_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='RandomRotFlip3D'),
    dict(type='RandomCrop3D', crop_size=patch_size),
    dict(type='PackVolSegInputs'),
]
unlabeled_pipeline = [
    # the label is loaded for monitoring pseudo-label quality only
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='RandomRotFlip3D'),
    dict(type='ContextCrop3D', crop_size=patch_size, max_shift=max_shift),
    dict(type='PackVolSegInputs'),
]
test_pipeline = [
    dict(type='LoadH5Volume', num_classes=2),
    dict(type='PackVolSegInputs'),
]

labeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.txt',
                   path_template=path_template, metainfo=dict(classes=class_names),
                   subset='labeled', labeled_num=labeled_num, num_val=num_val,
                   pipeline=train_pipeline)
unlabeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.txt',
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
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='val.txt',
                 path_template=path_template, metainfo=dict(classes=class_names),
                 subset='all', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='test.txt',
                 path_template=path_template, metainfo=dict(classes=class_names),
                 subset='all', pipeline=test_pipeline))
val_evaluator = dict(type='VolumeMetric')
test_evaluator = dict(type='VolumeMetric')
