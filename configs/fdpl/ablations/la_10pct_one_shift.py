# Ablation: one shifted crop per unlabeled volume (a random one of the four diagonal
# directions) instead of four, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(strategies=dict(dyn=dict(num_crops=1))))
