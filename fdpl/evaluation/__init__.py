"""Evaluation: per-case metrics, the evaluator metric and report writers."""
from .functional import binary_metrics
from .metrics import VolumeMetric
from .report import format_table, write_metrics

__all__ = ['binary_metrics', 'VolumeMetric', 'write_metrics', 'format_table']
