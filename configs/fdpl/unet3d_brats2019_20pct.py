# FDPL on BraTS-2019, 50 labeled (20 %): full unlabeled weight.
_base_ = ['./unet3d_brats2019_10pct.py']
labeled_num = 50
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num),
    dict(_base_.unlabeled_set, labeled_num=labeled_num)
]))
model = dict(semi_train_cfg=dict(schedule=dict(weight_max=1.0)))
