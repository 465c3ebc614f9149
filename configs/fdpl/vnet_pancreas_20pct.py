# FDPL on Pancreas-CT, 12 labeled (20 %): full unlabeled weight.
_base_ = ['./vnet_pancreas_10pct.py']
labeled_num = 12
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num),
    dict(_base_.unlabeled_set, labeled_num=labeled_num)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
pseudo_label_hook = dict(_base_.pseudo_label_hook, weight_max=1.0)
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
