# Ablation: temporary label = majority vote of the shifted crops' hard labels instead of the
# argmax of their mean probabilities, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, strategies=dict(
    fix=_base_.pseudo_label_hook.strategies.fix,
    dyn=dict(_base_.pseudo_label_hook.strategies.dyn, fusion='vote')))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
