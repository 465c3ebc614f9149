# FDPL on LA, 16 labeled (20 %).
_base_ = ['./vnet_la_10pct.py']
labeled_num = 16
split_file = _base_.split_dir + '/la_labeled16_canonical.json'
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num, split_file=split_file),
    dict(_base_.unlabeled_set, labeled_num=labeled_num, split_file=split_file)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num, split_file=split_file))
test_dataloader = dict(dataset=dict(split_file=split_file))
