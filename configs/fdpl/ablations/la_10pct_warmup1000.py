# Ablation: 1000 supervised-only iterations before the pseudo-label terms start (their
# sigmoid ramp-up then begins at iteration 1000), LA 10 %.
_base_ = ['../vnet_la_10pct.py']
pseudo_label_hook = dict(_base_.pseudo_label_hook, warmup_iters=1000)
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
