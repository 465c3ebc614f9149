# Ablation: L_sup + L_fix only, no dynamic label (CUT kept), embedded synthetic data.
# Like every file here it only edits `pseudo_label_hook` / `model` of its `_base_`, so the same
# edit applies unchanged on top of another FDPL config (e.g. configs/fdpl/vnet_synthetic.py).
_base_ = ['../../vnet_synthetic.py']
# Dropping a strategy needs `_delete_` in the top-level `pseudo_label_hook` (the value child
# configs read), because config merging would otherwise keep the inherited `dyn`. That marker is
# only understood by merging, so the hook entry of `custom_hooks` is written without it.
pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    strategies=dict(_delete_=True, fix=_base_.pseudo_label_hook.strategies.fix))
custom_hooks = _base_.runtime_hooks + [
    dict(_base_.pseudo_label_hook, strategies=dict(fix=_base_.pseudo_label_hook.strategies.fix))
]
