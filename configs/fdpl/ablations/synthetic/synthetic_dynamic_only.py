# Ablation: L_sup + L_dyn only, no separate fixed-label term (CUT kept), embedded synthetic data.
# The fixed label still fills the dynamic label outside the overlap region (COM).
_base_ = ['../../vnet_synthetic.py']
# `_delete_` drops the inherited `fix` from the top-level `pseudo_label_hook` (see
# la_10pct_fixed_only.py); the `custom_hooks` entry is written without that marker.
pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    strategies=dict(_delete_=True, dyn=_base_.pseudo_label_hook.strategies.dyn))
custom_hooks = _base_.runtime_hooks + [
    dict(_base_.pseudo_label_hook, strategies=dict(dyn=_base_.pseudo_label_hook.strategies.dyn))
]
