# Ablation: L_sup + L_fix + L_dyn without the CUT diversification (neither sub-network sees
# CutMix-ed crops, labels are not mixed), LA 10 %.
_base_ = ['../vnet_la_10pct.py']
model = dict(semi_train_cfg=dict(cut=None, cut_students=()))
