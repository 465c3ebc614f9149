"""Checkpoints that load with ``torch.load(weights_only=True)``.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
checkpoints do not pass that check: ``Runner.save_checkpoint`` pickles

* ``message_hub.log_scalars``: :class:`~mmengine.logging.HistoryBuffer`
  objects holding numpy arrays, whose ``__getstate__`` adds the statistics
  functions (``HistoryBuffer.min`` ... pickled through ``builtins.getattr``);
* numpy scalars and arrays in ``message_hub.runtime_info`` (``eta`` is a
  ``numpy.float64``; ``dataset_meta`` may hold a palette array) and in
  ``meta['dataset_meta']``.

``state_dict``, ``optimizer`` and ``param_schedulers`` (a ``Counter`` of
milestones) and the rest of ``meta`` (cfg text, seed, experiment name, time,
mmengine version, epoch, iter) are already plain, and so is ``meta['fdpl']``,
the provenance added by :class:`~fdpl.engine.hooks.RunRecordHook` (config
text, split file and hash, data set, labeled count, iteration, last
validation).

Allow-listing those globals would have to include ``builtins.getattr``, which
lets a file reach any attribute of an allowed object, so fdpl does not do it.
Instead the checkpoint is made plain before it is written
(:func:`encode_checkpoint`, run by ``SafeCheckpointHook`` as the last
``before_save_checkpoint``) and turned back into what mmengine expects after
it is read (:func:`decode_checkpoint`): numpy arrays and scalars become tagged
dicts around tensors (or lists, for text and object arrays), history buffers
become tagged dicts of their arrays and ``max_length``. Files are read only
through :func:`load_checkpoint_safe`, with ``weights_only=True`` passed
explicitly; a file holding any other pickled object is refused with a
``ValueError`` naming the file and the globals it needs.
:func:`register_checkpoint_loader` routes mmengine's local-file loader
(``Runner(load_from=...)``, ``resume=True``, ``init_cfg=dict(type='Pretrained')``)
through it.
"""
import os.path as osp
import pickle
import re
from collections import Counter, OrderedDict
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

#: Key marking a dict written by :func:`encode_checkpoint`.
TYPE_KEY = '__fdpl_type__'

_NDARRAY = 'numpy.ndarray'
_NPSCALAR = 'numpy.generic'
_HISTORY = 'mmengine.HistoryBuffer'

# Leaves ``torch.load(weights_only=True)`` reads without extra globals (exact types:
# subclasses such as enums or numpy.float64 are pickled by their class).
_PLAIN_LEAVES = (str, bytes, bytearray, int, float, complex, bool, type(None), torch.Tensor,
                 torch.nn.Parameter, torch.Size, torch.dtype, torch.device)
# Containers it reads; subclasses of dict/list/tuple other than these are refused.
_PLAIN_MAPPINGS = (dict, OrderedDict, Counter)
# numpy kinds stored as tensors: bool, signed, unsigned, float, complex.
_TENSOR_KINDS = 'biufc'
# numpy kinds stored as flat lists: unicode, bytes, object.
_LIST_KINDS = 'USO'

MapLocation = Optional[Union[str, torch.device, Callable, dict]]


def _encode_array(arr: np.ndarray, path: str) -> dict:
    """Tagged dict holding a numpy array as a tensor or a flat list."""
    dtype = arr.dtype
    out = {TYPE_KEY: _NDARRAY, 'dtype': dtype.str, 'shape': list(arr.shape)}
    if dtype.kind in _TENSOR_KINDS:
        native = np.ascontiguousarray(arr, dtype=dtype.newbyteorder('='))
        try:
            out['data'] = torch.from_numpy(native.reshape(-1)).clone()
            return out
        except TypeError:  # e.g. longdouble: no torch dtype
            pass
    elif dtype.kind not in _LIST_KINDS:
        raise ValueError(f'{path}: numpy array of dtype {dtype} cannot be stored in an fdpl '
                         f'checkpoint; expected a bool, numeric, string or object array')
    items = arr.reshape(-1).tolist()
    out['data'] = [_encode(v, f'{path}[{i}]') for i, v in enumerate(items)]
    return out


def _decode_array(obj: dict) -> np.ndarray:
    """Inverse of :func:`_encode_array`."""
    dtype = np.dtype(obj['dtype'])
    data = obj['data']
    if isinstance(data, torch.Tensor):
        flat = data.cpu().numpy().astype(dtype, copy=True)  # resume may map to GPU
    else:
        flat = np.empty(len(data), dtype=dtype)
        for i, v in enumerate(data):
            flat[i] = _decode(v)
    return flat.reshape(obj['shape'])


def _rebuild_mapping(obj: dict, items: dict) -> dict:
    """New mapping of ``obj``'s type and attributes (e.g. ``_metadata``) with ``items``."""
    new = type(obj)()
    for key, value in items.items():
        new[key] = value
    attrs = getattr(obj, '__dict__', None)
    if attrs:
        new.__dict__.update(attrs)
    return new


def _encode(obj: Any, path: str) -> Any:
    """Plain copy of ``obj``; unchanged sub-objects are returned as they are."""
    if type(obj) in _PLAIN_LEAVES:
        return obj
    if isinstance(obj, HistoryBuffer):
        log_history, count_history = obj.data
        return {
            TYPE_KEY: _HISTORY,
            'log_history': _encode_array(np.asarray(log_history), f'{path}.log_history'),
            'count_history': _encode_array(np.asarray(count_history), f'{path}.count_history'),
            'max_length': int(obj.max_length),
        }
    if isinstance(obj, np.ndarray):
        return _encode_array(obj, path)
    if isinstance(obj, np.generic):
        out = _encode_array(np.asarray(obj), path)
        out[TYPE_KEY] = _NPSCALAR
        return out
    if type(obj) in _PLAIN_MAPPINGS:
        for k in obj:
            if type(k) not in _PLAIN_LEAVES:
                raise ValueError(f'{path}: key {k!r} of a dict in an fdpl checkpoint must be a '
                                 f'plain value, got {type(k).__module__}.{type(k).__qualname__}')
        items = {k: _encode(v, f'{path}[{k!r}]') for k, v in obj.items()}
        if all(items[k] is v for k, v in obj.items()):
            return obj
        return _rebuild_mapping(obj, items)
    if type(obj) in (list, tuple):
        items = [_encode(v, f'{path}[{i}]') for i, v in enumerate(obj)]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return type(obj)(items)
    if type(obj) is set:
        for v in obj:
            if type(v) not in _PLAIN_LEAVES:
                raise ValueError(f'{path}: a set in an fdpl checkpoint may hold only plain '
                                 f'values, got {type(v).__module__}.{type(v).__qualname__}')
        return obj
    cls = type(obj)
    raise ValueError(
        f'{path} holds a {cls.__module__}.{cls.__qualname__}; an fdpl checkpoint holds only '
        f'tensors, numbers, strings, numpy arrays/scalars, history buffers and '
        f'dict/list/tuple/set of those. Convert it in the hook that writes it.')


def _decode(obj: Any) -> Any:
    """Inverse of :func:`_encode`; unchanged sub-objects are returned as they are."""
    if isinstance(obj, dict):
        tag = obj.get(TYPE_KEY)
        if tag == _NDARRAY:
            return _decode_array(obj)
        if tag == _NPSCALAR:
            return _decode_array(obj)[()]
        if tag == _HISTORY:
            return HistoryBuffer(
                _decode_array(obj['log_history']), _decode_array(obj['count_history']),
                max_length=obj['max_length'])
        items = {k: _decode(v) for k, v in obj.items()}
        if all(items[k] is v for k, v in obj.items()):
            return obj
        return _rebuild_mapping(obj, items)
    if type(obj) in (list, tuple):
        items = [_decode(v) for v in obj]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return type(obj)(items)
    return obj


def encode_checkpoint(checkpoint: dict) -> dict:
    """Make a checkpoint loadable with ``torch.load(weights_only=True)``, in place.

    Numpy arrays and scalars and :class:`~mmengine.logging.HistoryBuffer`
    objects anywhere in ``checkpoint`` are replaced by tagged dicts (marked
    with :data:`TYPE_KEY`) of tensors, lists and numbers. Tensors are kept
    as they are; the objects of the running training are not modified.

    Args:
        checkpoint (dict): The dict ``Runner.save_checkpoint`` is about to
            write (the argument of ``before_save_checkpoint``).

    Returns:
        dict: ``checkpoint`` itself.

    Raises:
        ValueError: A value of another type (e.g. an instance of a custom
            class), named by its key path: such a file would be refused on
            loading, so it is not written.
    """
    for key in list(checkpoint):
        checkpoint[key] = _encode(checkpoint[key], f'checkpoint[{key!r}]')
    return checkpoint


def decode_checkpoint(checkpoint: dict) -> dict:
    """Undo :func:`encode_checkpoint`, in place; idempotent.

    Args:
        checkpoint (dict): A loaded checkpoint.

    Returns:
        dict: ``checkpoint`` with numpy arrays, numpy scalars and history
        buffers restored, as mmengine's ``Runner.resume`` expects them.
    """
    if isinstance(checkpoint, dict):
        for key in list(checkpoint):
            checkpoint[key] = _decode(checkpoint[key])
    return checkpoint


def _unsafe_globals(path: str, error: Exception) -> List[str]:
    """Names of the globals the file needs beyond torch's allow-list."""
    names: List[str] = []
    try:
        names = list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 - legacy (non-zip) files cannot be scanned
        pass
    if not names:
        names = re.findall(r'Unsupported global: GLOBAL (\S+)', str(error))
    return names or ['<unknown>']


def load_checkpoint_safe(path: str, map_location: MapLocation = 'cpu') -> dict:
    """Load an fdpl/mmengine checkpoint with ``weights_only=True``.

    ``weights_only=True`` is passed explicitly, so neither the torch default
    nor ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` can turn it off. The result is
    passed through :func:`decode_checkpoint`.

    Args:
        path (str): Local checkpoint file.
        map_location (str | torch.device | Callable | dict, optional): As in
            :func:`torch.load`. Defaults to 'cpu'.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: The file holds pickled objects beyond tensors and plain
            Python values (the message names the file and those globals).
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file {path!r} does not exist')
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        names = _unsafe_globals(path, error)
        hint = ''
        if any(n.startswith(('mmengine.', 'numpy.')) for n in names):
            hint = (' It looks like an mmengine checkpoint saved without fdpl\'s '
                    'SafeCheckpointHook; re-save it only if you trust its source.')
        raise ValueError(
            f'Refusing to load checkpoint {path!r}: it holds pickled objects of '
            f'{", ".join(names)}. fdpl loads checkpoints with weights_only=True and refuses '
            f'arbitrary pickled objects (only tensors and plain Python values are '
            f'accepted).{hint}') from error
    try:
        return decode_checkpoint(checkpoint)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f'Checkpoint {path!r} holds a malformed {TYPE_KEY!r} entry: '
                         f'{error!r}') from error


def _load_from_local(filename: str, map_location: MapLocation = None) -> dict:
    """mmengine ``CheckpointLoader`` backend for local files (prefix '')."""
    return load_checkpoint_safe(filename, map_location=map_location)


def register_checkpoint_loader() -> None:
    """Route mmengine's local checkpoint loading through :func:`load_checkpoint_safe`.

    Replaces the loader mmengine's ``CheckpointLoader`` registers for plain
    paths (prefix ``''``), which ``Runner.load_checkpoint``,
    ``Runner.resume`` and ``init_cfg=dict(type='Pretrained')`` use. Safe to
    call more than once. Other schemes (``http://``, ``s3://`` ...) keep
    mmengine's loaders.
    """
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)


__all__ = [
    'TYPE_KEY', 'encode_checkpoint', 'decode_checkpoint', 'load_checkpoint_safe',
    'register_checkpoint_loader'
]
