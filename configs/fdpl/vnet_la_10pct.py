# FDPL on LA, 8 labeled (10 %): two V-Nets, fixed + dynamic pseudo-labels, CUT on SN2.
_base_ = [
    '../_base_/datasets/la.py', '../_base_/models/vnet_pair.py',
    '../_base_/schedules/iters_9k.py', '../_base_/default_runtime.py'
]
labeled_num = 8
split_file = _base_.split_dir + '/la_labeled8_canonical.json'
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num, split_file=split_file),
    dict(_base_.unlabeled_set, labeled_num=labeled_num, split_file=split_file)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num, split_file=split_file))
test_dataloader = dict(dataset=dict(split_file=split_file))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
