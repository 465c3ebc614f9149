# Two 3D U-Nets (SN1, SN2; SSL4MIS `unet_3D` design, PROTOCOL.md 3.2) co-trained with fixed and
# dynamic pseudo-labels, for 96^3 patches (BraTS). Everything but the backbone, the input noise
# and the inference window is inherited from the V-Net pair, model.semi_train_cfg included: its
# default shift range [ceil(P/16), floor(P/4)] gives 6..24 voxels on a 96 side.
_base_ = ['./vnet_pair.py']
model = dict(
    backbone=dict(_delete_=True, type='UNet3D', in_channels=1, num_classes=2, base_channels=16,
                  norm_cfg=dict(type='IN3d', affine=False), dropout_ratio=0.3,
                  with_dropout=True),
    test_cfg=dict(mode='classic', patch_size=(96, 96, 96), stride=(16, 16, 16)),
    semi_train_cfg=dict(noise=0.05))
