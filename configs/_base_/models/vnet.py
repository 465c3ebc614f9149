# One V-Net of the field (PROTOCOL.md 3.1), trained with 0.5 * CE + 0.5 * Dice. The training
# inputs get the same U(-noise, noise) perturbation as FDPL's students in ./vnet_pair.py (its
# model.semi_train_cfg.noise), so a supervised-only baseline and its FDPL twin differ only by the
# method: keep the two values equal.
model = dict(
    type='SupervisedSegmentor',
    backbone=dict(type='VNet', in_channels=1, num_classes=2, base_channels=16,
                  norm_cfg=dict(type='BN3d'), dropout_ratio=0.5, with_dropout=True),
    loss=dict(type='CEDiceLoss', alpha=0.5),
    noise=0.2,
    data_preprocessor=dict(type='VolSegDataPreprocessor'),
    test_cfg=dict(mode='classic', patch_size=(80, 112, 112), stride=(4, 18, 18)))
