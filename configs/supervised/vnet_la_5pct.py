# Supervised-only V-Net on LA with the first 4 ids of train.list (5 %).
_base_ = ['./vnet_la_10pct.py']
labeled_num = 4
split_file = _base_.split_dir + '/la_labeled4_canonical.json'
train_dataloader = dict(dataset=dict(labeled_num=labeled_num, split_file=split_file))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num, split_file=split_file))
test_dataloader = dict(dataset=dict(split_file=split_file))
