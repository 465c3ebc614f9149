# Ablation: L_sup + L_fix only, no dynamic label (CUT kept), LA 10 %.
# Like every file here it only edits `model` of its `_base_`, so the same edit applies
# unchanged on top of another FDPL config (e.g. configs/fdpl/vnet_synthetic.py).
_base_ = ['../vnet_la_10pct.py']
# A strategy set to None is switched off (its loss term disappears).
model = dict(semi_train_cfg=dict(strategies=dict(dyn=None)))
