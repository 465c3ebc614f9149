"""Mode parsing and tables of tools/benchmark_sliding_window.py."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_sliding_window', ROOT / 'tools/benchmark_sliding_window.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_presets(tool):
    stride = (4, 18, 18)
    classic = tool.parse_mode('classic', 0.5, 4, stride)
    assert classic['test_cfg'] == dict(mode='classic', stride=stride, sw_batch_size=1,
                                       fast_predictor=False)
    fast = tool.parse_mode('fast@0.25', 0.5, 6, stride)
    assert fast['test_cfg'] == dict(mode='gaussian', stride=None, overlap=0.25, sw_batch_size=6,
                                    fast_predictor=True)
    assert tool.parse_mode('monai', 0.5, 4, stride)['monai']
    assert tool.parse_mode('whole', 0.5, 4, stride)['test_cfg']['mode'] == 'whole'
    with pytest.raises(ValueError, match='unknown mode'):
        tool.parse_mode('fastest', 0.5, 4, stride)
    with pytest.raises(ValueError, match='takes no overlap'):
        tool.parse_mode('whole@0.5', 0.5, 4, stride)


def test_custom_mode(tool):
    mode = tool.parse_mode('mode=gaussian,stride=4x16x16,sw_batch_size=2', 0.5, 4, None)
    assert mode['test_cfg'] == dict(mode='gaussian', stride=(4, 16, 16), sw_batch_size=2,
                                    fast_predictor=True)
    mode = tool.parse_mode('mode=classic,stride=none,overlap=0.5,fast_predictor=false', 0.5, 4,
                           None)
    assert mode['test_cfg'] == dict(mode='classic', stride=None, overlap=0.5, sw_batch_size=4,
                                    fast_predictor=False)


def test_dice_and_table(tool):
    a = np.zeros((4, 4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4, 4), bool)
    b[1:3] = True
    assert tool.dice(a, b) == pytest.approx(50.0)
    assert tool.dice(a & False, b & False) == 0.0
    modes = [tool.parse_mode(m, 0.5, 4, (4, 18, 18)) for m in ('classic', 'fast', 'whole', 'monai')]
    row = {}
    for m, t, d, v in (('classic', 40., 80., 9), ('fast', 5., 81., 1), ('whole', 2., 79., 7),
                       ('monai', 10., 81., 0)):
        row.update({f'{m}_seconds': t, f'{m}_dice': d, f'{m}_voxels_differing_from_monai': v})
    rows = [row]
    summary = tool.summarize(rows, modes, ['monai'])
    table = tool.format_table(summary, ['monai'], 1).splitlines()
    assert table[0] == ('| mode | settings | s / case | Dice % | Dice - classic | speed vs monai | '
                        'time / whole | voxels != monai (1 cases) |')
    assert table[3].startswith('| fast |') and table[3].endswith(
        '| 5.00 | 81.00 | +1.00 | x2.00 | 2.50 | 1 |')
