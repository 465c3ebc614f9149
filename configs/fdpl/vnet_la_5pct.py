# FDPL on LA, 4 labeled (5 %); unlabeled weight 0.3 in the lowest-label setting (METHOD.md 2.7).
_base_ = ['./vnet_la_10pct.py']
labeled_num = 4
split_file = _base_.split_dir + '/la_labeled4_canonical.json'
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num, split_file=split_file),
    dict(_base_.unlabeled_set, labeled_num=labeled_num, split_file=split_file)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num, split_file=split_file))
test_dataloader = dict(dataset=dict(split_file=split_file))
model = dict(semi_train_cfg=dict(schedule=dict(weight_max=0.3)))
