"""Confidence-weighted fixed pseudo-labels, an fdpl plugin.

Importing this package registers :class:`ConfidenceWeightedPseudoLabel` in
``fdpl.registry.PSEUDO_LABELERS``; configs load it with
``custom_imports = dict(imports=['projects.confidence_pseudo_label.confidence_pl'])``.
"""
from .confident_fixed import ConfidenceWeightedPseudoLabel

__all__ = ['ConfidenceWeightedPseudoLabel']
