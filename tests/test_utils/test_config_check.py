"""The config checks that guard the pseudo-label settings' one home.

``model.semi_train_cfg`` holds the method's settings; a top-level
``pseudo_label_hook`` (what earlier configs used) and ``--cfg-options`` on
config-file variables change nothing, so they fail before training, naming
the key; the context margin of ``ContextCrop3D`` is derived from the shift
range.
"""
import argparse
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction

from fdpl.utils import check_cfg_options, check_config, derive_context_margin

REPO = Path(__file__).resolve().parents[2]
HALF = REPO / 'configs' / 'fdpl' / 'cpu' / 'vnet16_la_half_10pct.py'


def _options(*args: str) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *args]).cfg_options


def _context_crop(cfg: Config) -> dict:
    crops = [t for t in cfg.train_dataloader.dataset.datasets[1].pipeline
             if t['type'] == 'ContextCrop3D']
    assert len(crops) == 1
    return crops[0]


def test_stale_top_level_pseudo_label_hook_fails_naming_it():
    cfg = Config.fromfile(str(HALF))
    cfg.merge_from_dict(dict(pseudo_label_hook=dict(weight_max=0.3)))
    with pytest.raises(KeyError) as err:
        check_config(cfg)
    assert "'pseudo_label_hook'" in str(err.value) and 'model.semi_train_cfg' in str(err.value)
    # the old command line is refused before the config is even merged
    with pytest.raises(KeyError, match='pseudo_label_hook.*model.semi_train_cfg'):
        check_cfg_options(_options('pseudo_label_hook.strategies.dyn.shift_range=(4,24)'))


def test_cfg_options_on_file_variables_fail():
    with pytest.raises(KeyError, match=r"\['max_shift', 'patch_size'\].*changes nothing"):
        check_cfg_options(_options('max_shift=(0,24,24)', 'patch_size=(32,64,64)',
                                   'train_cfg.max_iters=3'))
    check_cfg_options(_options('model.semi_train_cfg.shift.range=(4,24)', 'train_cfg.max_iters=3',
                               'randomness.seed=1', 'val_cfg=None'))
    check_cfg_options(None)


def test_margin_is_derived_from_the_shift_range():
    cfg = Config.fromfile(str(HALF))
    assert tuple(_context_crop(cfg)['max_shift']) == (0, 16, 16)  # default range [4, 16]
    assert derive_context_margin(cfg) == []  # already in agreement
    cfg.merge_from_dict(_options('model.semi_train_cfg.shift.range=(4,24)'))
    check_config(cfg)
    assert tuple(_context_crop(cfg)['max_shift']) == (0, 24, 24)
    cfg.merge_from_dict(_options('model.semi_train_cfg.shift.axes=w', 'model.semi_train_cfg.shift'
                                 '.range=0.125,0.25'))
    changes = derive_context_margin(cfg)
    assert tuple(_context_crop(cfg)['max_shift']) == (0, 0, 16)
    assert len(changes) == 1 and '.max_shift: (0, 24, 24) -> (0, 0, 16)' in changes[0]


def test_unknown_semi_train_cfg_key_fails_before_training():
    cfg = Config.fromfile(str(HALF))
    cfg.merge_from_dict(_options('model.semi_train_cfg.schedule.rampup_iter=300'))
    with pytest.raises(ValueError, match=r"model\.semi_train_cfg\.schedule\.rampup_iter is not an "
                       r"option.*did you mean 'rampup_iters'"):
        check_config(cfg)


def test_supervised_config_is_left_alone():
    cfg = Config.fromfile(str(REPO / 'configs' / 'supervised' / 'cpu' / 'vnet16_la_half_10pct.py'))
    assert derive_context_margin(cfg) == []
