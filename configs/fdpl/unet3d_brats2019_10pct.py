# FDPL on BraTS-2019 (FLAIR, whole tumour), 25 labeled (10 %): two 3D U-Nets on 96^3 patches,
# input noise U(-0.05, 0.05); unlabeled weight 0.3 in the lowest-label setting (METHOD.md 2.7).
_base_ = [
    '../_base_/datasets/brats2019.py', '../_base_/models/unet3d_pair.py',
    '../_base_/schedules/iters_30k.py', '../_base_/default_runtime.py'
]
labeled_num = 25
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num),
    dict(_base_.unlabeled_set, labeled_num=labeled_num)
]))
model = dict(test_cfg=dict(patch_size=_base_.patch_size, stride=_base_.test_stride),
             semi_train_cfg=dict(noise=0.05, schedule=dict(weight_max=0.3)))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
