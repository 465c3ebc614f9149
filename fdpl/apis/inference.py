"""Build a trained model for inference: from a config and a checkpoint, a checkpoint alone or a
model-zoo name.

A checkpoint written by fdpl's training carries its config as text in
``meta['fdpl']['config']`` (:class:`~fdpl.engine.hooks.RunRecordHook`;
mmengine's own ``meta['cfg']`` is the fallback), so a checkpoint alone is
enough. A model-zoo name is the stem of an entry ``docs/model_zoo/<name>.json``
(``tools/publish_model.py``): its ``file`` is the checkpoint (checked
against the entry's sha256) and its ``config`` the config file, relative to
the checkout.

Checkpoints are read with :func:`fdpl.engine.load_checkpoint_safe`
(``weights_only=True``) and refused unless their weights fit the model
(:func:`fdpl.engine.check_state_dict_matches`) before anything runs.
"""
import os.path as osp
from typing import Any, Dict, Optional, Tuple, Union

import torch
from mmengine.config import Config

__all__ = ['ZOO_DIR', 'init_model', 'resolve_model', 'config_from_checkpoint']

#: Folder of the model-zoo entries, relative to the checkout.
ZOO_DIR = osp.join('docs', 'model_zoo')
_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

ConfigType = Union[str, Config, dict]


def config_from_checkpoint(checkpoint: Dict[str, Any], checkpoint_file: str = '') -> Config:
    """The config stored in a checkpoint's meta.

    Args:
        checkpoint (dict): A loaded checkpoint.
        checkpoint_file (str): Named in the error message.

    Returns:
        Config: From ``meta['fdpl']['config']`` or, failing that,
        ``meta['cfg']``.

    Raises:
        ValueError: The checkpoint carries no config.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    stamp = meta.get('fdpl') if isinstance(meta.get('fdpl'), dict) else {}
    text = stamp.get('config') or meta.get('cfg')
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f'checkpoint {checkpoint_file!r} carries no config in its meta '
                         "(meta['fdpl']['config'] or meta['cfg']); give the config file too: "
                         'tools/infer.py CONFIG CHECKPOINT INPUT ...')
    return Config.fromstring(text, '.py')


def _zoo_entry(name: str) -> Optional[Dict[str, Any]]:
    from fdpl.provenance.model_zoo import load_zoo_entries
    for entry in load_zoo_entries(osp.join(_ROOT, ZOO_DIR)):
        if entry.get('name') == name:
            return entry
    return None


def _from_root(path: str) -> str:
    return path if osp.isabs(path) else osp.join(_ROOT, path)


def resolve_model(
        model: Optional[ConfigType] = None,
        weights: Optional[str] = None
) -> Tuple[Config, Optional[Dict[str, Any]], Optional[str], Optional[str]]:
    """Find the config and load the checkpoint named by ``model`` and ``weights``.

    ``model`` is a config (file, :class:`Config` or dict), a checkpoint
    file (when ``weights`` is None), a model-zoo name, or None (then
    ``weights`` must carry its config).

    Returns:
        tuple: ``(cfg, checkpoint, checkpoint_file, config_source)``:
        ``checkpoint`` and ``checkpoint_file`` are None when no weights are
        given (a randomly initialised model); ``config_source`` is the
        config file, ``'meta of <checkpoint>'`` or None for a config object.

    Raises:
        FileNotFoundError: A file that does not exist, an unknown zoo name.
        ValueError: A checkpoint without config, a zoo checkpoint whose
            sha256 differs from its entry.
    """
    from fdpl.engine import load_checkpoint_safe
    cfg: Optional[Config] = None
    source: Optional[str] = None
    if isinstance(model, Config):
        cfg = model
    elif isinstance(model, dict):
        cfg = Config(model)
    elif model is not None:
        model = str(model)
        if model.endswith('.py'):
            if not osp.isfile(model):
                raise FileNotFoundError(f'config file {model!r} does not exist')
            cfg, source = Config.fromfile(model), model
        elif osp.isfile(model):
            if weights is not None:
                raise ValueError(f'{model!r} is a file but not a config (.py), and weights '
                                 f'{weights!r} are given too')
            weights = model
        else:
            entry = _zoo_entry(model)
            if entry is None:
                raise FileNotFoundError(
                    f'{model!r} is neither a config file, a checkpoint file nor a model-zoo '
                    f'name (entries: {osp.join(_ROOT, ZOO_DIR)})')
            weights = weights or _from_root(entry['file'])
            if not osp.isfile(weights):
                raise FileNotFoundError(f'model-zoo entry {model!r}: checkpoint {weights!r} does '
                                        'not exist; download it or publish it with '
                                        'tools/publish_model.py')
            from fdpl.provenance.run_record import file_sha256
            if entry.get('sha256') and file_sha256(weights) != entry['sha256']:
                raise ValueError(f'model-zoo entry {model!r}: checkpoint {weights!r} has another '
                                 f'sha256 than the entry ({entry["sha256"][:12]}...)')
            if entry.get('config') and osp.isfile(_from_root(entry['config'])):
                source = _from_root(entry['config'])
                cfg = Config.fromfile(source)
    if weights is None:
        if cfg is None:
            raise ValueError('give a config, a checkpoint or a model-zoo name')
        return cfg, None, None, source
    checkpoint = load_checkpoint_safe(weights)
    if cfg is None:
        cfg, source = config_from_checkpoint(checkpoint, weights), f'meta of {weights}'
    return cfg, checkpoint, weights, source


def _build(cfg: Config, checkpoint: Optional[Dict[str, Any]], checkpoint_file: Optional[str],
           device: Union[str, torch.device]) -> torch.nn.Module:
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings

    from fdpl.engine import check_state_dict_matches, checkpoint_state_dict
    from fdpl.registry import MODELS
    from fdpl.utils import add_cwd_to_path
    if cfg.get('custom_imports'):
        add_cwd_to_path()
        import_modules_from_strings(**cfg['custom_imports'])
    if 'model' not in cfg:
        raise KeyError(f'config {cfg.filename!r} has no `model`')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'fdpl')):
        model = MODELS.build(cfg.model)
    if checkpoint is not None:
        state = checkpoint_state_dict(checkpoint)
        check_state_dict_matches(model.state_dict(), state, config_file=cfg.filename,
                                 checkpoint_file=checkpoint_file)
        model.load_state_dict(state, strict=True)
    model.cfg = cfg
    model.checkpoint_meta = dict((checkpoint or {}).get('meta') or {})
    return model.to(device).eval()


def init_model(config: Optional[ConfigType] = None,
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a segmentor from a config and load a checkpoint into it.

    Args:
        config (str | Config | dict, optional): Config file or object, or a
            model-zoo name; None when ``checkpoint`` carries its config.
        checkpoint (str, optional): Checkpoint file. None leaves the model
            randomly initialised.
        device (str | torch.device): Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config, e.g.
            ``{'model.test_cfg.mode': 'gaussian'}``.

    Returns:
        nn.Module: The model in eval mode on ``device``, with ``cfg`` (the
        config used) and ``checkpoint_meta`` (the checkpoint's ``meta``)
        attached.

    Raises:
        ValueError: The checkpoint's weights do not fit the model (first
            differing key named), or it carries pickled objects.

    Example:
        >>> model = init_model('configs/supervised/cpu/vnet_la_10pct_half.py',
        ...                    'work_dirs/la/iter_600.pth')
    """
    cfg, ckpt, ckpt_file, _ = resolve_model(config, checkpoint)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return _build(cfg, ckpt, ckpt_file, device)
