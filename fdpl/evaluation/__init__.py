"""Evaluation: per-case metrics, the evaluator metric and report writers."""
from .functional import binary_metrics
from .gap_closed import (format_gap_closed_markdown, gap_closed_percent, gap_closed_table,
                         write_gap_closed_table)
from .metrics import VolumeMetric
from .report import format_predictor_table, format_table, write_metrics

__all__ = [
    'binary_metrics', 'VolumeMetric', 'write_metrics', 'format_table', 'format_predictor_table',
    'gap_closed_percent', 'gap_closed_table', 'format_gap_closed_markdown', 'write_gap_closed_table'
]
