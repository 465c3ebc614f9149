# fdpl_tiny.py with the strategies of
# projects/confidence_pseudo_label/configs/fdpl_conf_synthetic.py (the plugin's
# confidence-weighted fixed pseudo-label, loaded through custom_imports).
_base_ = ['./fdpl_tiny.py']

custom_imports = dict(
    imports=['projects.confidence_pseudo_label.confidence_pl'], allow_failed_imports=False)

pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    strategies=dict(
        fix=dict(type='ConfidenceWeightedPseudoLabel', mode='soft', power=1.0),
        dyn=_base_.pseudo_label_hook.strategies.dyn))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
