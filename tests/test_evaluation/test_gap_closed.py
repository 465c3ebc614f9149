"""Gap closed to full supervision, on hand-written seeds tables."""
import csv
import json
import math

import pytest

from fdpl.evaluation import (format_gap_closed_markdown, gap_closed_percent, gap_closed_table,
                             write_gap_closed_table)


def _table(*values, column='dice', **more):
    """A seeds table with one row per seed 0, 1, ... holding ``column``."""
    rows = [dict(seed=s, **{column: v}) for s, v in enumerate(values)]
    for key, vals in more.items():
        for r, v in zip(rows, vals):
            r[key] = v
    return dict(rows=rows)


@pytest.mark.parametrize('value, sup, full, expected', [
    (75.0, 70.0, 80.0, 50.0),
    (70.0, 70.0, 80.0, 0.0),
    (80.0, 70.0, 80.0, 100.0),
    (65.0, 70.0, 80.0, -50.0),   # worse than supervised-only
    (85.0, 70.0, 80.0, 150.0),   # better than full supervision
    (12.0, 20.0, 4.0, 50.0),     # lower is better (95HD): same formula
    (75.0, 70.0, 70.0, None),    # no gap to close
    (None, 70.0, 80.0, None),
    (float('nan'), 70.0, 80.0, None),
])
def test_gap_closed_percent(value, sup, full, expected):
    assert gap_closed_percent(value, sup, full) == expected


def test_table_by_hand():
    sup = _table(60.0, 64.0, 68.0)       # mean 64, sample std 4
    full = _table(80.0, 84.0, 88.0)      # mean 84
    fdpl = _table(70.0, 79.0, 67.0)      # gaps 50, 75, -5
    other = _table(62.0, 64.0)           # seeds 0, 1 only
    out = gap_closed_table(sup, {'FDPL': fdpl, 'other': other}, full)
    assert out['metric'] == 'dice' and out['predictor'] is None
    fdpl_rows = [r for r in out['rows'] if r['method'] == 'FDPL']
    assert [r['seed'] for r in fdpl_rows] == [0, 1, 2]
    assert [r['gap_closed'] for r in fdpl_rows] == [50.0, 75.0, -5.0]
    assert fdpl_rows[1] == dict(method='FDPL', seed=1, sup=64.0, value=79.0, full=84.0,
                                gap_closed=75.0)
    mean = out['summary'][0]
    assert mean['method'] == 'FDPL' and mean['seed'] == 'mean'
    assert mean['sup'] == 64.0 and mean['sup_std'] == 4.0 and mean['full'] == 84.0
    assert mean['value'] == 72.0                       # (70 + 79 + 67) / 3
    assert mean['gap_closed'] == pytest.approx(40.0)   # 100 * (72 - 64) / (84 - 64)
    seeds = mean['gap_closed_seeds']
    # mean and sample std of the per-seed gaps 50, 75, -5
    assert seeds['n'] == 3 and seeds['mean'] == pytest.approx(40.0)
    assert seeds['std'] == pytest.approx(math.sqrt((10 ** 2 + 35 ** 2 + 45 ** 2) / 2))
    other_mean = out['summary'][1]
    assert other_mean['value'] == 63.0
    assert other_mean['gap_closed'] == pytest.approx(100.0 * (63 - 64) / 20)
    assert [r['gap_closed'] for r in out['rows'] if r['method'] == 'other'] == [10.0, 0.0]
    # the mean rows say which seeds they cover; 'other' lacks seed 2, so its row is unpaired
    assert mean['paired'] and mean['seeds'] == dict(sup=[0, 1, 2], value=[0, 1, 2], full=[0, 1, 2])
    assert not other_mean['paired'] and other_mean['seeds']['value'] == [0, 1]
    text = format_gap_closed_markdown(out)
    assert ("Unpaired mean row of other: its seeds [0, 1], supervised-only's [0, 1, 2], "
            "full supervision's [0, 1, 2]; the per-seed gaps pair them (5.00 ± 7.07 over 2 "
            "seeds).") in text
    assert 'Unpaired mean row of FDPL' not in text
    disjoint = gap_closed_table(_table(60.0), {'FDPL': dict(rows=[dict(seed=3, dice=70.0)])},
                                _table(80.0))
    assert ("Unpaired mean row of FDPL: its seeds [3], supervised-only's [0], full "
            "supervision's [0]; no seed is in all three tables.") \
        in format_gap_closed_markdown(disjoint)


def test_missing_seed_and_predictor_columns():
    sup, full = _table(60.0), _table(80.0)
    fdpl = _table(70.0, 72.0, **{'net2/dice': [75.0, 78.0], 'mean/dice': [72.0, 76.0]})
    out = gap_closed_table(sup, {'FDPL': fdpl}, full, predictor='net2')
    assert [r['gap_closed'] for r in out['rows']] == [75.0, None]   # no seed 1 in sup/full
    assert out['rows'][1]['sup'] is None
    assert out['summary'][0]['value'] == 76.5
    assert out['summary'][0]['gap_closed'] == pytest.approx(82.5)
    with pytest.raises(KeyError, match="'net1/dice'"):
        gap_closed_table(sup, {'FDPL': fdpl}, full, predictor='net1')
    with pytest.raises(KeyError, match='rows'):
        gap_closed_table(dict(summary={}), {'FDPL': fdpl}, full)
    with pytest.raises(ValueError, match='metric'):
        gap_closed_table(sup, {'FDPL': fdpl}, full, metric='hd')
    with pytest.raises(ValueError, match='method'):
        gap_closed_table(sup, {}, full)


def test_writers(tmp_path):
    out = gap_closed_table(_table(60.0, 64.0), {'FDPL': _table(70.0, 74.0)},
                           _table(80.0, 84.0))
    out['split'] = 'val'
    js, cs, md = write_gap_closed_table(tmp_path, out)
    assert json.loads(open(js).read())['summary'][0]['gap_closed'] == 50.0
    rows = list(csv.DictReader(open(cs)))
    assert [r['seed'] for r in rows] == ['0', '1', 'mean']
    assert [float(r['gap_closed']) for r in rows] == [50.0, 50.0, 50.0]
    assert float(rows[2]['sup_std']) == pytest.approx(math.sqrt(8.0))
    assert float(rows[2]['gap_closed_seeds_std']) == 0.0
    text = open(md).read()
    assert text == format_gap_closed_markdown(out)
    assert 'Unpaired' not in text
    assert 'split `val`' in text and '| FDPL | 0 | 60.00 | 70.00 | 80.00 | 50.00 |' in text
    assert '| **FDPL** | **mean** | 62.00 ± 2.83 | 72.00 ± 2.83 | 82.00 ± 2.83 | **50.00** |' \
        in text
