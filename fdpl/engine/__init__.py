"""Training engine of fdpl: hooks and checkpoint handling."""
from . import hooks
from .checkpoint import (decode_checkpoint, encode_checkpoint, load_checkpoint_safe,
                         register_checkpoint_loader)
from .hooks import *  # noqa: F401,F403

__all__ = [
    'encode_checkpoint', 'decode_checkpoint', 'load_checkpoint_safe',
    'register_checkpoint_loader'
] + hooks.__all__
