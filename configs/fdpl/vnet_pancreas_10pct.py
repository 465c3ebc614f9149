# FDPL on Pancreas-CT, 6 labeled (10 %): two V-Nets on 96^3 patches, fixed + dynamic
# pseudo-labels, CUT on SN2; unlabeled weight 0.3 in the lowest-label setting (METHOD.md 2.7).
_base_ = [
    '../_base_/datasets/pancreas.py', '../_base_/models/vnet_pair.py',
    '../_base_/schedules/iters_10k.py', '../_base_/default_runtime.py'
]
labeled_num = 6
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_set, labeled_num=labeled_num),
    dict(_base_.unlabeled_set, labeled_num=labeled_num)
]))
val_dataloader = dict(dataset=dict(labeled_num=labeled_num))
model = dict(test_cfg=dict(patch_size=_base_.patch_size, stride=_base_.test_stride),
             semi_train_cfg=dict(noise=0.05, schedule=dict(weight_max=0.3)))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
