# Ablation: L_sup + L_fix + L_dyn without the CUT diversification (neither sub-network sees
# CutMix-ed crops, labels are not mixed), embedded synthetic data.
_base_ = ['../../vnet_synthetic.py']
model = dict(semi_train_cfg=dict(cut=None, cut_students=()))
