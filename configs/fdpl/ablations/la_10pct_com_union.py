# Ablation: COM region = union of the shifted crops' overlaps with the fixed crop (per-voxel
# average over the crops that cover a voxel) instead of their intersection, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(strategies=dict(dyn=dict(region='union'))))
