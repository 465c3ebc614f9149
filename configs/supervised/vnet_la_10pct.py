# Supervised-only V-Net on LA with the first 8 ids of train.list (10 %), batch 4
# labeled crops, 9000 iterations: the "labeled only" row of the field's tables.
_base_ = [
    '../_base_/datasets/la.py', '../_base_/models/vnet.py',
    '../_base_/schedules/iters_9k.py', '../_base_/default_runtime.py'
]
labeled_num = 8
split_file = _base_.split_dir + '/la_labeled8_canonical.json'
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(_base_.labeled_set, labeled_num=labeled_num, split_file=split_file))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num, split_file=split_file))
test_dataloader = dict(dataset=dict(split_file=split_file))
