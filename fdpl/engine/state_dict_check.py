"""Check that a checkpoint's weights fit a model before anything runs.

mmengine's ``load_checkpoint(..., strict=False)`` (what ``Runner(load_from=...)``
does) only logs missing, unexpected and mis-shaped keys, so testing a
checkpoint with the wrong config runs a partly random model to the end.
``tools/test.py`` calls :func:`check_state_dict_matches` first.
"""
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ['checkpoint_state_dict', 'state_dict_differences', 'check_state_dict_matches']

#: Key prefixes removed from checkpoint keys, as mmengine's loader does.
REVISE_KEYS: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )


def _shape(value: Any) -> Optional[Tuple[int, ...]]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(int(s) for s in shape)


def checkpoint_state_dict(checkpoint: Mapping[str, Any],
                          revise_keys: Sequence[Tuple[str, str]] = REVISE_KEYS) -> Dict[str, Any]:
    """The weights of a loaded checkpoint, with keys as mmengine loads them.

    Args:
        checkpoint (dict): A loaded checkpoint: ``{'state_dict': ...}`` or a
            bare state dict.
        revise_keys (Sequence[tuple[str, str]]): ``(pattern, replacement)``
            applied to every key (default: drop a leading ``module.``).

    Returns:
        dict: Key to tensor.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, Mapping) else {}
    if not isinstance(state, Mapping):
        raise ValueError(f"checkpoint['state_dict'] must be a dict, got {type(state).__name__}")
    out: Dict[str, Any] = {}
    for key, value in state.items():
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def state_dict_differences(model_state: Mapping[str, Any],
                           ckpt_state: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """All differences between a model's and a checkpoint's state dict, in order.

    The model's keys are walked in their order (a key missing from the
    checkpoint or of another shape), then the checkpoint's keys the model
    does not have.

    Args:
        model_state (dict): ``model.state_dict()``.
        ckpt_state (dict): The checkpoint's weights, e.g. from
            :func:`checkpoint_state_dict`.

    Returns:
        list[dict]: One dict per difference: ``key``, ``kind`` ('missing':
        in the model, not in the checkpoint; 'unexpected': the reverse;
        'shape'), ``model_shape`` and ``checkpoint_shape`` (tuples or None).
    """
    diffs: List[Dict[str, Any]] = []
    for key, value in model_state.items():
        if key not in ckpt_state:
            diffs.append(dict(key=key, kind='missing', model_shape=_shape(value),
                              checkpoint_shape=None))
            continue
        a, b = _shape(value), _shape(ckpt_state[key])
        if a != b:
            diffs.append(dict(key=key, kind='shape', model_shape=a, checkpoint_shape=b))
    for key, value in ckpt_state.items():
        if key not in model_state:
            diffs.append(dict(key=key, kind='unexpected', model_shape=None,
                              checkpoint_shape=_shape(value)))
    return diffs


def _describe(diff: Dict[str, Any]) -> str:
    key, kind = diff['key'], diff['kind']
    if kind == 'missing':
        return (f'{key!r} (shape {diff["model_shape"]}) is in the model but missing from the '
                'checkpoint')
    if kind == 'unexpected':
        return (f'{key!r} (shape {diff["checkpoint_shape"]}) is in the checkpoint but not in '
                'the model')
    return (f'{key!r} has shape {diff["checkpoint_shape"]} in the checkpoint and '
            f'{diff["model_shape"]} in the model')


def check_state_dict_matches(model_state: Mapping[str, Any],
                             ckpt_state: Mapping[str, Any],
                             config_file: Optional[str] = None,
                             checkpoint_file: Optional[str] = None) -> None:
    """Raise unless the checkpoint has exactly the model's keys and shapes.

    Args:
        model_state (dict): ``model.state_dict()`` of the model built from
            the config.
        ckpt_state (dict): A loaded checkpoint or its state dict (see
            :func:`checkpoint_state_dict`).
        config_file (str, optional): Named in the message.
        checkpoint_file (str, optional): Named in the message.

    Raises:
        ValueError: Naming the first differing key (missing, unexpected, or
            both shapes), the counts of each kind and the two files.
    """
    if 'state_dict' in ckpt_state or any(k.startswith('module.') for k in ckpt_state):
        ckpt_state = checkpoint_state_dict(ckpt_state)
    diffs = state_dict_differences(model_state, ckpt_state)
    if not diffs:
        return
    counts = {k: sum(d['kind'] == k for d in diffs) for k in ('missing', 'unexpected', 'shape')}
    ckpt_name = repr(checkpoint_file) if checkpoint_file else 'the checkpoint'
    cfg_name = repr(config_file) if config_file else 'the config'
    raise ValueError(
        f'Checkpoint {ckpt_name} does not match the model built from config {cfg_name}: '
        f'first differing state-dict key: {_describe(diffs[0])}. In all '
        f'{counts["missing"]} key(s) missing from the checkpoint, {counts["unexpected"]} '
        f'unexpected, {counts["shape"]} of another shape ({len(model_state)} keys in the '
        f'model, {len(ckpt_state)} in the checkpoint). Test the checkpoint with the config it '
        'was trained with (stored in the checkpoint\'s meta).')
