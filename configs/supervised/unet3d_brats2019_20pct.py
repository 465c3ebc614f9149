# Supervised-only 3D U-Net on BraTS-2019 with the first 50 ids of train.txt (20 %).
_base_ = ['./unet3d_brats2019_10pct.py']
labeled_num = 50
train_dataloader = dict(dataset=dict(labeled_num=labeled_num))
