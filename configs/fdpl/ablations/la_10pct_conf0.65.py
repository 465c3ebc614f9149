# Ablation: confidence masking, voxels whose teacher probability of the chosen class is below
# 0.65 (TraCoCo's threshold) are left out of both pseudo-label losses, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(confidence_threshold=0.65))
