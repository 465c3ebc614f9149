# Ablation: COM region = union of the shifted crops' overlaps with the fixed crop (per-voxel
# average over the crops that cover a voxel) instead of their intersection, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, strategies=dict(
    fix=_base_.pseudo_label_hook.strategies.fix,
    dyn=dict(_base_.pseudo_label_hook.strategies.dyn, region='union')))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
