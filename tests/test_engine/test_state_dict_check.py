"""A checkpoint whose weights do not fit the config's model is refused, naming the key."""
import re
from collections import OrderedDict

import pytest
import torch

from fdpl.engine import check_state_dict_matches, checkpoint_state_dict, state_dict_differences
from fdpl.models.backbones import VNet


def _vnet_state(base_channels: int) -> dict:
    return VNet(in_channels=1, num_classes=2, base_channels=base_channels).state_dict()


def test_matching_state_dicts_pass():
    state = _vnet_state(4)
    check_state_dict_matches(state, {'state_dict': dict(state)})
    # DDP-saved keys are accepted, as mmengine's loader strips 'module.'
    check_state_dict_matches(state, {'state_dict': {f'module.{k}': v for k, v in state.items()}})


def test_shape_mismatch_names_first_key_and_both_shapes():
    ckpt, model = _vnet_state(8), _vnet_state(4)
    first = next(iter(model))
    with pytest.raises(ValueError) as info:
        check_state_dict_matches(model, {'state_dict': ckpt}, config_file='cfg_c4.py',
                                 checkpoint_file='ckpt_c8.pth')
    msg = str(info.value)
    assert f"first differing state-dict key: '{first}'" in msg
    assert f'shape {tuple(ckpt[first].shape)} in the checkpoint' in msg
    assert f'{tuple(model[first].shape)} in the model' in msg
    assert "'cfg_c4.py'" in msg and "'ckpt_c8.pth'" in msg


def test_missing_and_unexpected_keys():
    model = OrderedDict(a=torch.zeros(2), b=torch.zeros(3))
    with pytest.raises(ValueError, match=re.escape("'b' (shape (3,)) is in the model but "
                                                   'missing from the checkpoint')):
        check_state_dict_matches(model, dict(a=torch.zeros(2), c=torch.zeros(1)))
    with pytest.raises(ValueError, match=re.escape("'c' (shape (1,)) is in the checkpoint but "
                                                   'not in the model')):
        check_state_dict_matches(model, dict(a=torch.zeros(2), b=torch.zeros(3),
                                             c=torch.zeros(1)))
    diffs = state_dict_differences(model, dict(a=torch.zeros(4), c=torch.zeros(1)))
    assert [(d['key'], d['kind']) for d in diffs] == [('a', 'shape'), ('b', 'missing'),
                                                      ('c', 'unexpected')]


def test_checkpoint_state_dict():
    assert list(checkpoint_state_dict({'state_dict': {'module.x': 1}})) == ['x']
    assert list(checkpoint_state_dict({'x': 1})) == ['x']
    with pytest.raises(ValueError, match='state_dict'):
        checkpoint_state_dict({'state_dict': [1]})
