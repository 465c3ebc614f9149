# Ablation: alpha = 0.7 in alpha * CE + (1 - alpha) * Dice, for the supervised and the
# pseudo-label losses alike (the paper's alpha sweep, Fig. 5), LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(loss_sup=dict(alpha=0.7), loss_unsup=dict(alpha=0.7))
