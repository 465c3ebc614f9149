# Supervised-only V-Net on LA with the first 4 ids of train.list (5 %).
_base_ = ['./vnet_la_10pct.py']
labeled_num = 4
train_dataloader = dict(dataset=dict(labeled_num=labeled_num))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
