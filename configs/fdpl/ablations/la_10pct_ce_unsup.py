# Ablation: the pseudo-label losses are cross-entropy only (alpha = 1 in alpha * CE +
# (1 - alpha) * Dice); the supervised loss keeps CE + Dice, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(loss_unsup=dict(alpha=1.0))
