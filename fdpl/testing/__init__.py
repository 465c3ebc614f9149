"""Helpers that build inputs of the right form, for tests and benchmarks."""
from .demo_inputs import demo_two_stream_batch

__all__ = ['demo_two_stream_batch']
