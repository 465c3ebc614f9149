# Ablation: lambda_fix = lambda_dyn = 0.5 instead of 1.0 (both pseudo-label terms at half
# weight, same schedule), LA 10 %. The lowest-label reading of METHOD.md 2.7 is instead
# model.semi_train_cfg.schedule.weight_max=0.3 (configs/fdpl/vnet_la_5pct.py).
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(unsup_weights=dict(fix=0.5, dyn=0.5)))
