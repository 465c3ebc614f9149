# Ablation: L_sup + L_dyn only, no separate fixed-label term (CUT kept), embedded synthetic data.
# The fixed label still fills the dynamic label outside the overlap region (COM).
_base_ = ['../../vnet_synthetic.py']
# A strategy set to None is switched off (its loss term disappears).
model = dict(semi_train_cfg=dict(strategies=dict(fix=None)))
