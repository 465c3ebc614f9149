# FDPL on LA, 16 labeled (20 %).
_base_ = ['./vnet_la_10pct.py']
labeled_num = 16
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num),
    dict(_base_.unlabeled_set, labeled_num=labeled_num)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
