# Ablation: one shifted crop per unlabeled volume (a random one of the four diagonal
# directions) instead of four, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, strategies=dict(
    fix=_base_.pseudo_label_hook.strategies.fix,
    dyn=dict(_base_.pseudo_label_hook.strategies.dyn, num_crops=1)))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
