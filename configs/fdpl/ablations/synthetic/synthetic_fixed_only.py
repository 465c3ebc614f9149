# Ablation: L_sup + L_fix only, no dynamic label (CUT kept), embedded synthetic data.
# Like every file here it only edits `model` of its `_base_`, so the same edit applies
# unchanged on top of another FDPL config (e.g. configs/fdpl/vnet_synthetic.py).
_base_ = ['../../vnet_synthetic.py']
# A strategy set to None is switched off (its loss term disappears).
model = dict(semi_train_cfg=dict(strategies=dict(dyn=None)))
