# The embedded default: deterministic synthetic LA-like volumes (32 x 64 x 64) whose anatomy,
# position, contrast, intensity scale, bias field, noise and distractors vary from case to case
# (fdpl/datasets/synthetic.py), generated on first use into $FDPL_DATA_ROOT/synthetic_la in the
# LA h5 layout. 36 training ids (first 4 labeled, 26 unlabeled, last 6 held out for
# validation) and 12 test ids.
_base_ = ['./la.py']
data_root = '{{$FDPL_DATA_ROOT:data}}/synthetic_la'
dataset_type = 'SyntheticLADataset'
generate = dict(num_train=36, num_test=12, shape=(32, 64, 64), seed=0)
patch_size = (16, 32, 32)
max_shift = (0, 8, 8)
labeled_num = 4
num_val = 6
split_file = None  # the subsets come from the list files (train.list / test.list)

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
labeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                   generate=generate, split_file=split_file,
                   subset='labeled', labeled_num=labeled_num, num_val=num_val,
                   pipeline=train_pipeline)
unlabeled_set = dict(type=dataset_type, data_root=data_root, ann_file='train.list',
                     generate=generate, split_file=split_file,
                     subset='unlabeled', labeled_num=labeled_num, num_val=num_val,
                     pipeline=unlabeled_pipeline)
train_dataloader = dict(
    num_workers=1, persistent_workers=True,
    dataset=dict(type='ConcatDataset', datasets=[labeled_set, unlabeled_set]))
val_dataloader = dict(num_workers=0, dataset=dict(
    type=dataset_type, data_root=data_root, labeled_num=labeled_num, num_val=num_val,
    generate=generate, split_file=split_file))
test_dataloader = dict(
    num_workers=0, dataset=dict(type=dataset_type, data_root=data_root, generate=generate,
                                split_file=split_file, ann_file='test.list', subset='all'))
