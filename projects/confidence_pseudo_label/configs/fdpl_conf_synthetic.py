# FDPL on the embedded synthetic data with the fixed pseudo-label weighted by the teacher's
# confidence (soft weights, see confidence_pl/confident_fixed.py); everything else as
# configs/fdpl/vnet_synthetic.py. Run from the repository root.
_base_ = ['../../../configs/fdpl/vnet_synthetic.py']

custom_imports = dict(
    imports=['projects.confidence_pseudo_label.confidence_pl'], allow_failed_imports=False)

pseudo_label_hook = dict(
    _base_.pseudo_label_hook,
    strategies=dict(
        fix=dict(type='ConfidenceWeightedPseudoLabel', mode='soft', power=1.0),
        dyn=_base_.pseudo_label_hook.strategies.dyn))
custom_hooks = _base_.runtime_hooks + [pseudo_label_hook]
