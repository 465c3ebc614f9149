"""Metrics registered in :data:`fdpl.registry.METRICS`."""
from .volume_metric import VolumeMetric

__all__ = ['VolumeMetric']
