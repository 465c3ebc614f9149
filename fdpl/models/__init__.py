"""Backbones, losses, data preprocessors and segmentors."""
from . import backbones, data_preprocessors, losses, segmentors  # noqa: F401
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
