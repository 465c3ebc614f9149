# Two V-Nets (SN1, SN2) co-trained with fixed and dynamic pseudo-labels (METHOD.md).
model = dict(
    type='SemiSupervisedSegmentor',
    backbone=dict(type='VNet', in_channels=1, num_classes=2, base_channels=16,
                  norm_cfg=dict(type='BN3d'), dropout_ratio=0.5, with_dropout=True),
    loss_sup=dict(type='CEDiceLoss', alpha=0.5),
    loss_unsup=dict(type='CEDiceLoss', alpha=0.5),
    unsup_weights=dict(fix=1.0, dyn=1.0),
    cut_students=(2, ),
    noise=0.2,
    infer_with='net1',
    data_preprocessor=dict(type='VolSegDataPreprocessor'),
    test_cfg=dict(mode='classic', patch_size=(80, 112, 112), stride=(4, 18, 18)))
# The pseudo-label hook: strategies, CUT, teacher mode and weight schedule.
pseudo_label_hook = dict(
    type='PseudoLabelHook',
    strategies=dict(
        fix=dict(type='FixedPseudoLabel'),
        dyn=dict(type='DynamicPseudoLabel', directions='diagonal', num_crops=4,
                 shift_axes=('h', 'w'), shift_range=None, region='intersection',
                 fusion='mean')),
    cut=dict(type='CutMix', beta=(4.0, 4.0), full_depth=True, prob=1.0),
    teacher_mode='train_frozen',
    weight_max=1.0,
    warmup_iters=0,
    rampup_iters=6000,
    rampup_step=150)
