# Supervised-only V-Net on Pancreas-CT with the first 12 ids of train.list (20 %).
_base_ = ['./vnet_pancreas_10pct.py']
labeled_num = 12
train_dataloader = dict(dataset=dict(labeled_num=labeled_num))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
