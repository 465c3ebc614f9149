"""fdpl: semi-supervised 3D medical image segmentation with fixed and dynamic pseudo-labels.

Importing the package registers nothing eagerly (the registries in
:mod:`fdpl.registry` import their modules on first lookup) except the
checkpoint loader that keeps mmengine checkpoints loadable with
``torch.load(weights_only=True)``.
"""
from .engine.checkpoint import register_checkpoint_loader
from .version import __version__

register_checkpoint_loader()

__all__ = ['__version__']
