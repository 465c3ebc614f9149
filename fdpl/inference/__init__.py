"""Whole-volume inference and post-processing."""
from .postprocess import largest_connected_component
from .sliding_window import (compute_window_starts, compute_window_starts_by_overlap,
                             gaussian_importance_map, sliding_window_inference,
                             whole_volume_inference)

__all__ = [
    'compute_window_starts', 'compute_window_starts_by_overlap', 'gaussian_importance_map',
    'sliding_window_inference', 'whole_volume_inference', 'largest_connected_component'
]
