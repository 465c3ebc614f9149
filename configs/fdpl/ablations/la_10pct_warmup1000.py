# Ablation: 1000 supervised-only iterations before the pseudo-label terms start (their
# sigmoid ramp-up then begins at iteration 1000), LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(schedule=dict(warmup_iters=1000)))
