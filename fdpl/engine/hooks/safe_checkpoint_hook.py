"""Keeps checkpoints loadable with ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook

from fdpl.registry import HOOKS
from ..checkpoint import decode_checkpoint, encode_checkpoint


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Write checkpoints without numpy or mmengine objects; read them back.

    ``before_save_checkpoint`` runs :func:`~fdpl.engine.checkpoint.encode_checkpoint`
    on the whole checkpoint (the message hub's history buffers, numpy
    arrays and scalars become tagged dicts of tensors and numbers). Its
    priority is ``'LOWEST'`` so that it sees what every other hook added.
    ``after_load_checkpoint`` runs
    :func:`~fdpl.engine.checkpoint.decode_checkpoint` before
    ``Runner.resume`` hands the message hub its state; files read through
    :func:`~fdpl.engine.checkpoint.load_checkpoint_safe` are decoded already,
    and decoding twice changes nothing.

    Example:
        >>> custom_hooks = [dict(type='SafeCheckpointHook')]
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Replace the non-plain values of ``checkpoint`` in place.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint about to be written.
        """
        encode_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore numpy values and history buffers in place.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        decode_checkpoint(checkpoint)
