"""Training engine of fdpl: hooks, checkpoint handling and checks."""
from . import hooks
from .checkpoint import (decode_checkpoint, encode_checkpoint, load_checkpoint_safe,
                         register_checkpoint_loader)
from .hooks import *  # noqa: F401,F403
from .state_dict_check import (check_state_dict_matches, checkpoint_state_dict,
                               state_dict_differences)

__all__ = [
    'encode_checkpoint', 'decode_checkpoint', 'load_checkpoint_safe',
    'register_checkpoint_loader', 'check_state_dict_matches', 'checkpoint_state_dict',
    'state_dict_differences'
] + hooks.__all__
