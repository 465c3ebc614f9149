# Ablation: temporary label = majority vote of the shifted crops' hard labels instead of the
# argmax of their mean probabilities, LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(strategies=dict(dyn=dict(fusion='vote'))))
