# One 3D U-Net (SSL4MIS `unet_3D` design, PROTOCOL.md 3.2), trained with 0.5 * CE + 0.5 * Dice,
# for 96^3 patches. The training inputs get the same U(-noise, noise) perturbation as FDPL's
# students in ./unet3d_pair.py (its model.semi_train_cfg.noise): keep the two values equal.
model = dict(
    type='SupervisedSegmentor',
    backbone=dict(type='UNet3D', in_channels=1, num_classes=2, base_channels=16,
                  norm_cfg=dict(type='IN3d', affine=False), dropout_ratio=0.3,
                  with_dropout=True),
    loss=dict(type='CEDiceLoss', alpha=0.5),
    noise=0.05,
    data_preprocessor=dict(type='VolSegDataPreprocessor'),
    test_cfg=dict(mode='classic', patch_size=(96, 96, 96), stride=(16, 16, 16)))
