# One V-Net of the field (PROTOCOL.md 3.1), trained with 0.5 * CE + 0.5 * Dice.
model = dict(
    type='SupervisedSegmentor',
    backbone=dict(type='VNet', in_channels=1, num_classes=2, base_channels=16,
                  norm_cfg=dict(type='BN3d'), dropout_ratio=0.5, with_dropout=True),
    loss=dict(type='CEDiceLoss', alpha=0.5),
    data_preprocessor=dict(type='VolSegDataPreprocessor'),
    test_cfg=dict(mode='classic', patch_size=(80, 112, 112), stride=(4, 18, 18)))
