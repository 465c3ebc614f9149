"""Early checks of a config, before any data is read or model built."""
import difflib
from typing import Iterable

from mmengine.config import Config

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


def _require(cfg: Config, keys: Iterable[str], path: str = '') -> None:
    present = list(cfg.keys())
    for key in keys:
        if key not in cfg or cfg[key] is None:
            close = difflib.get_close_matches(key, present, n=1, cutoff=0.75)
            hint = f'; did you mean {close[0]!r}?' if close else ''
            raise KeyError(f'Config {path or cfg.filename!r} has no {key!r}{hint}')


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
    mean" hint), the keys the run needs, the default scope, and that a
    semi-supervised model is trained with a
    :class:`~fdpl.engine.hooks.PseudoLabelHook` (and a supervised one
    without).

    Args:
        cfg (Config): The loaded config.
        train (bool): Check for training (True) or testing.

    Raises:
        KeyError: A required key is missing or a key is misspelled.
        ValueError: Inconsistent settings.
    """
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
                         "never be trained; add dict(type='PseudoLabelHook', ...) to custom_hooks "
                         '(see pseudo_label_hook in configs/_base_/models/vnet_pair.py)')
    if not semi and 'PseudoLabelHook' in hooks:
        raise ValueError(f'PseudoLabelHook needs model.type=SemiSupervisedSegmentor, got '
                         f'{cfg.model.get("type")!r}')
