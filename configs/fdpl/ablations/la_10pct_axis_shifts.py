# Ablation: the four shifted crops move along the in-plane axes (+h, -h, +w, -w) instead of
# the four in-plane diagonals, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(strategies=dict(dyn=dict(directions='axis'))))
