"""Whole-volume inference and post-processing."""
from .fast_predictor import fast_predictor
from .postprocess import largest_connected_component
from .sliding_window import (DEFAULT_SW_BATCH_SIZE, MODES, compute_window_starts,
                             compute_window_starts_by_overlap, gaussian_importance_map,
                             sliding_window_inference, whole_volume_inference, window_positions)

__all__ = [
    'DEFAULT_SW_BATCH_SIZE', 'MODES', 'compute_window_starts', 'compute_window_starts_by_overlap',
    'fast_predictor', 'gaussian_importance_map', 'sliding_window_inference',
    'whole_volume_inference', 'window_positions', 'largest_connected_component'
]
