# Ablation: L_sup + L_fix + L_dyn without the CUT diversification (neither sub-network sees
# CutMix-ed crops, labels are not mixed), embedded synthetic data.
_base_ = ['../../vnet_synthetic.py']
model = dict(cut_students=())
pseudo_label_hook = dict(_base_.pseudo_label_hook, cut=None)
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
