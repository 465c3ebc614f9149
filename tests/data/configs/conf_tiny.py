# fdpl_tiny.py with the strategies of
# projects/confidence_pseudo_label/configs/fdpl_conf_synthetic.py (the plugin's
# confidence-weighted fixed pseudo-label, loaded through custom_imports).
_base_ = ['./fdpl_tiny.py']

custom_imports = dict(
    imports=['projects.confidence_pseudo_label.confidence_pl'], allow_failed_imports=False)

model = dict(semi_train_cfg=dict(strategies=dict(
    fix=dict(_delete_=True, type='ConfidenceWeightedPseudoLabel', mode='soft', power=1.0))))
