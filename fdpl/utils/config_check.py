"""Early checks of a config, before any data is read or model built."""
import difflib
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

_TRAIN_KEYS = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper')
_TEST_KEYS = ('model', 'test_dataloader', 'test_evaluator', 'test_cfg')
#: Top-level keys read by mmengine's Runner (0.10.x), its config loader and fdpl's tools.
_RUNNER_KEYS = frozenset((
    'model', 'work_dir', 'experiment_name', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks',
    'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor',
    'log_level', 'visualizer', 'default_scope', 'randomness', 'model_wrapper_cfg',
    'find_unused_parameters', 'custom_imports', 'compile', 'strategy', 'sync_bn', 'cfg'))
#: Top-level keys of earlier fdpl configs that nothing reads any more, and where the
#: settings live now.
_STALE_KEYS = {
    'pseudo_label_hook': (
        'the pseudo-label settings live in model.semi_train_cfg: strategies, shift, cut, '
        'cut_students, unsup_weights, teacher_mode, teacher_batch_size, noise, and schedule='
        'dict(weight_max, warmup_iters, rampup_iters, rampup_step, ramp); custom_hooks holds '
        "dict(type='PseudoLabelHook') without method options"),
}


def _require(cfg: Config, keys: Iterable[str], path: str = '') -> None:
    present = list(cfg.keys())
    for key in keys:
        if key not in cfg or cfg[key] is None:
            close = difflib.get_close_matches(key, present, n=1, cutoff=0.75)
            hint = f'; did you mean {close[0]!r}?' if close else ''
            raise KeyError(f'Config {path or cfg.filename!r} has no {key!r}{hint}')


def _check_stale_keys(keys: Iterable[str], where: str) -> None:
    stale = [k for k in keys if k in _STALE_KEYS]
    if stale:
        raise KeyError(f'{where} sets the top-level key(s) {stale}, which nothing reads any '
                       f'more: ' + '; '.join(f'{k}: {_STALE_KEYS[k]}' for k in stale)
                       + '. Remove them and set the options where they live.')


def check_cfg_options(options: Optional[Mapping[str, Any]]) -> None:
    """Refuse ``--cfg-options`` entries that would change nothing.

    A top-level key that is not a Runner key (``patch_size``, ``max_shift``,
    ``labeled_num``, ...) is a variable of the config file: it was used
    while the file was parsed, and setting it afterwards changes no
    component. Known-stale keys (``pseudo_label_hook``) get the place their
    settings moved to.

    Args:
        options (Mapping, optional): The parsed ``--cfg-options``.

    Raises:
        KeyError: Naming each such entry.
    """
    tops = [k.split('.')[0] for k in (options or {})]
    _check_stale_keys(tops, '--cfg-options')
    unread = [k for k, top in zip(options or {}, tops)
              if top not in _RUNNER_KEYS and not top.startswith('_')]
    if unread:
        raise KeyError(f'--cfg-options {unread}: top-level variables of a config file are read '
                       'only while the file is parsed, so setting them here changes nothing; set '
                       'the option where it is used (e.g. model.semi_train_cfg.shift.range, '
                       'train_dataloader.dataset.datasets.0.labeled_num)')


def _context_crops(obj: Any, path: str) -> Iterator[Tuple[str, dict]]:
    """``(dotted path, config)`` of every ``ContextCrop3D`` below ``obj``."""
    if isinstance(obj, Mapping):
        if _type_name(obj) == 'ContextCrop3D':
            yield path, obj
        for key, value in obj.items():
            yield from _context_crops(value, f'{path}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _context_crops(value, f'{path}.{i}')


def derive_context_margin(cfg: Config) -> List[str]:
    """Set ``ContextCrop3D.max_shift`` of the training data from the shift settings.

    The context margin is not a setting of its own: it is the largest shift
    of ``model.semi_train_cfg.shift`` on each axis (0 on unshifted axes),
    for the ``crop_size`` of each ``ContextCrop3D`` in ``train_dataloader``.
    The value a dataset config writes is the default's; this replaces it, so
    ``--cfg-options model.semi_train_cfg.shift.range=(4,24)`` widens the
    context region as well. Nothing happens for a model that is not a
    ``SemiSupervisedSegmentor``.

    Args:
        cfg (Config): The loaded config, changed in place.

    Returns:
        list[str]: One line per margin changed (also logged).
    """
    model = cfg.get('model')
    if not isinstance(model, Mapping) or _type_name(model) != 'SemiSupervisedSegmentor':
        return []
    from fdpl.models.segmentors.semi_train_cfg import (normalize_semi_train_cfg,
                                                       semi_context_margin)
    semi = normalize_semi_train_cfg(model.get('semi_train_cfg'))
    changes = []
    for path, crop in _context_crops(cfg.get('train_dataloader'), 'train_dataloader'):
        size = crop.get('crop_size')
        size = (size, ) * 3 if isinstance(size, int) else tuple(size)
        old = crop.get('max_shift')
        old = (old, ) * 3 if isinstance(old, int) else (None if old is None else tuple(old))
        need = tuple(semi_context_margin(semi, size))
        if old != need:
            crop['max_shift'] = need
            changes.append(f'{path}.max_shift: {old} -> {need} (derived from '
                           f'model.semi_train_cfg.shift.range={semi.shift["range"]!r}, axes '
                           f'{tuple(semi.shift["axes"])})')
    for line in changes:
        print_log(line, logger='current')
    return changes


def _check_unknown_keys(cfg: Config) -> None:
    """Refuse a top-level key that looks like a misspelled Runner key.

    Configs also hold their own variables (``data_root``, ``patch_size``, ...),
    so only a key close to a known one (and not itself known) is refused:
    the Runner would silently ignore it, e.g. ``trian_cfg`` next to an
    inherited ``train_cfg``. Keys starting with ``_`` are never checked.
    """
    for key in cfg.keys():
        if key in _RUNNER_KEYS or key.startswith('_'):
            continue
        close = difflib.get_close_matches(key, sorted(_RUNNER_KEYS), n=1, cutoff=0.8)
        if close:
            raise KeyError(f'Config {cfg.filename!r} has an unknown top-level key {key!r}, which '
                           f'the Runner would ignore; did you mean {close[0]!r}?')


def _type_name(obj) -> str:
    """Registered name of a config (scope dropped) or class name of an object."""
    name = obj.get('type', '') if isinstance(obj, dict) else type(obj).__name__
    name = name if isinstance(name, str) else getattr(name, '__name__', '')
    return name.split('.')[-1]


def check_config(cfg: Config, train: bool = True) -> None:
    """Fail fast on configs that cannot work.

    Checks top-level keys that look like misspelled Runner keys (a "did you
    mean" hint) or that nothing reads any more (``pseudo_label_hook``), the
    keys the run needs, the default scope, the model's ``semi_train_cfg``
    (every option known), and that a semi-supervised model is trained with
    a :class:`~fdpl.engine.hooks.PseudoLabelHook` (and a supervised one
    without). For training it also derives the context margin of
    ``ContextCrop3D`` from ``model.semi_train_cfg.shift``
    (:func:`derive_context_margin`, changing ``cfg`` in place).

    Args:
        cfg (Config): The loaded config.
        train (bool): Check for training (True) or testing.

    Raises:
        KeyError: A required key is missing or a key is misspelled.
        ValueError: Inconsistent settings.
    """
    _check_stale_keys(cfg.keys(), f'Config {cfg.filename!r}')
    _check_unknown_keys(cfg)
    _require(cfg, _TRAIN_KEYS if train else _TEST_KEYS)
    if cfg.get('default_scope', 'fdpl') != 'fdpl':
        raise ValueError(f"default_scope must be 'fdpl', got {cfg.default_scope!r}")
    if not train:
        return
    hooks = [_type_name(h) for h in cfg.get('custom_hooks', []) or []]
    semi = _type_name(cfg.model) == 'SemiSupervisedSegmentor'
    if semi and 'PseudoLabelHook' not in hooks:
        raise ValueError(f'Config {cfg.filename!r}: model.type is SemiSupervisedSegmentor but '
                         'custom_hooks has no PseudoLabelHook, so the pseudo-label terms would '
                         "never be trained; add dict(type='PseudoLabelHook') to custom_hooks "
                         '(its settings come from model.semi_train_cfg)')
    if not semi and 'PseudoLabelHook' in hooks:
        raise ValueError(f'PseudoLabelHook needs model.type=SemiSupervisedSegmentor, got '
                         f'{cfg.model.get("type")!r}')
    if semi:
        derive_context_margin(cfg)  # also checks model.semi_train_cfg
