"""Early checks of a config, before any data is read or model built."""
import difflib
from typing import Iterable

from mmengine.config import Config

_TRAIN_KEYS = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper')
_TEST_KEYS = ('model', 'test_dataloader', 'test_evaluator', 'test_cfg')


def _require(cfg: Config, keys: Iterable[str], path: str = '') -> None:
    present = list(cfg.keys())
    for key in keys:
        if key not in cfg or cfg[key] is None:
            close = difflib.get_close_matches(key, present, n=1, cutoff=0.75)
            hint = f'; did you mean {close[0]!r}?' if close else ''
            raise KeyError(f'Config {path or cfg.filename!r} has no {key!r}{hint}')


def check_config(cfg: Config, train: bool = True) -> None:
    """Fail fast on configs that cannot work.

    Checks the keys the run needs (with a "did you mean" hint for typos),
    the default scope, and that a semi-supervised model is trained with a
    :class:`~fdpl.engine.hooks.PseudoLabelHook` (and a supervised one
    without).

    Args:
        cfg (Config): The loaded config.
        train (bool): Check for training (True) or testing.

    Raises:
        KeyError: A required key is missing.
        ValueError: Inconsistent settings.
    """
    _require(cfg, _TRAIN_KEYS if train else _TEST_KEYS)
    if cfg.get('default_scope', 'fdpl') != 'fdpl':
        raise ValueError(f"default_scope must be 'fdpl', got {cfg.default_scope!r}")
    if not train:
        return
    hooks = [h.get('type') for h in cfg.get('custom_hooks', []) or []]
    semi = cfg.model.get('type') == 'SemiSupervisedSegmentor'
    if semi and 'PseudoLabelHook' not in hooks:
        raise ValueError('model.type is SemiSupervisedSegmentor but custom_hooks has no '
                         'PseudoLabelHook: the pseudo-label terms would never be trained')
    if not semi and 'PseudoLabelHook' in hooks:
        raise ValueError(f'PseudoLabelHook needs model.type=SemiSupervisedSegmentor, got '
                         f'{cfg.model.get("type")!r}')
