# The CPU testbed's full-supervision row: every one of the 64 non-validation cases of
# train.list labeled, with the network, schedule and evaluation of
# configs/supervised/cpu/vnet16_la_half_10pct.py.
_base_ = ['./vnet16_la_half_10pct.py']
labeled_num = 64
split_file = _base_.split_dir + '/la_labeled64_canonical.json'
train_dataloader = dict(dataset=dict(split_file=split_file, labeled_num=labeled_num))
val_dataloader = dict(dataset=dict(split_file=split_file, labeled_num=labeled_num))
test_dataloader = dict(dataset=dict(split_file=split_file))
