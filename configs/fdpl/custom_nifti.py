# FDPL on your own NIfTI data (docs/custom_data.md): two V-Nets, 2 labeled + 2 unlabeled crops
# per batch, a schedule shortened for small data sets (3000 iterations, validation and a
# checkpoint every 300). Data, classes, channels and patch come from the environment
# variables listed in configs/_base_/datasets/custom_nifti.py; e.g.
#   FDPL_MANIFEST=data/my/manifest.json FDPL_SPLIT=data/my/splits/<name>.json \
#   python tools/train.py configs/fdpl/custom_nifti.py --work-dir work_dirs/my_fdpl
# Other settings: --cfg-options, e.g. train_cfg.max_iters=6000 model.backbone.base_channels=8.
_base_ = [
    '../_base_/datasets/custom_nifti.py', '../_base_/models/vnet_pair.py',
    '../_base_/schedules/iters_3k.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(in_channels=_base_.in_channels, num_classes=_base_.num_classes,
                  base_channels=16),
    loss_sup=dict(num_classes=_base_.num_classes),
    loss_unsup=dict(num_classes=_base_.num_classes),
    test_cfg=dict(mode='classic', patch_size=_base_.patch_size, stride=_base_.test_stride),
    # pseudo-label weight ramps up over the first two thirds of the schedule (as 6000 of 9000)
    semi_train_cfg=dict(schedule=dict(warmup_iters=0, rampup_iters=2000, rampup_step=50)))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=_base_.val_interval,
                                     save_best=_base_.best_metric))
custom_hooks = _base_.runtime_hooks + [dict(type='PseudoLabelHook')]  # reads model.semi_train_cfg
