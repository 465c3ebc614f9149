# FDPL on Pancreas-CT, 12 labeled (20 %): full unlabeled weight.
_base_ = ['./vnet_pancreas_10pct.py']
labeled_num = 12
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num),
    dict(_base_.unlabeled_set, labeled_num=labeled_num)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
model = dict(semi_train_cfg=dict(schedule=dict(weight_max=1.0)))
