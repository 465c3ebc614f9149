# FDPL on the embedded synthetic data with the fixed pseudo-label weighted by the teacher's
# confidence (soft weights, see confidence_pl/confident_fixed.py); everything else as
# configs/fdpl/vnet_synthetic.py. Run from the repository root.
_base_ = ['../../../configs/fdpl/vnet_synthetic.py']

custom_imports = dict(
    imports=['projects.confidence_pseudo_label.confidence_pl'], allow_failed_imports=False)

model = dict(semi_train_cfg=dict(strategies=dict(
    fix=dict(_delete_=True, type='ConfidenceWeightedPseudoLabel', mode='soft', power=1.0))))
