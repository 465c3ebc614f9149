"""Figures and files for inspecting results: overlays, curves, NIfTI."""
from .curves import plot_training_curves
from .nifti import save_prediction_nifti
from .overlay import save_overlays

__all__ = ['save_overlays', 'plot_training_curves', 'save_prediction_nifti']
