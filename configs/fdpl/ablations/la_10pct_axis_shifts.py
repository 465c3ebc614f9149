# Ablation: the four shifted crops move along the in-plane axes (+h, -h, +w, -w) instead of
# the four in-plane diagonals, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, strategies=dict(
    fix=_base_.pseudo_label_hook.strategies.fix,
    dyn=dict(_base_.pseudo_label_hook.strategies.dyn, directions='axis')))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
