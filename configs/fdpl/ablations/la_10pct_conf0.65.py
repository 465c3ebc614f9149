# Ablation: confidence masking, voxels whose teacher probability of the chosen class is below
# 0.65 (TraCoCo's threshold) are left out of both pseudo-label losses, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, strategies=dict(
    fix=dict(_base_.pseudo_label_hook.strategies.fix, confidence_threshold=0.65),
    dyn=dict(_base_.pseudo_label_hook.strategies.dyn, confidence_threshold=0.65)))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
