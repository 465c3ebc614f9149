"""Data samplers of fdpl."""
from .two_stream import TwoStreamSampler

__all__ = ['TwoStreamSampler']
