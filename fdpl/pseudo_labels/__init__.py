"""Pseudo-label strategies (registry ``PSEUDO_LABELERS``) and their geometry."""
from . import functional  # noqa: F401
from .base import BasePseudoLabeler, PseudoLabel
from .cut import CutMix
from .dynamic import DynamicPseudoLabel
from .fixed import FixedPseudoLabel

__all__ = ['BasePseudoLabeler', 'PseudoLabel', 'FixedPseudoLabel', 'DynamicPseudoLabel', 'CutMix']
