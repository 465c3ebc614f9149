"""Hooks of fdpl."""
from .prediction_writer_hook import PredictionWriterHook
from .pseudo_label_hook import PseudoLabelHook
from .rng_state_hook import RNGStateHook
from .run_record_hook import RunRecordHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'PseudoLabelHook', 'PredictionWriterHook', 'RNGStateHook', 'RunRecordHook',
    'SafeCheckpointHook'
]
