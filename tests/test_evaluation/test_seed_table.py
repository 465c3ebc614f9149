"""Seeds tables: rows from metrics.json, mean +- sample std across seeds, writers."""
import csv
import json
import math

import pytest

from fdpl.evaluation.seed_table import (format_seeds_markdown, row_from_metrics,
                                        summarize_seeds, write_seeds_table)


def _metrics(dice, empty=0):
    return dict(summary=dict(dice=dict(mean=dice, std=1.0), jaccard=dict(mean=dice - 10, std=2.0),
                             hd95=dict(mean=5.0, std=0.5), asd=dict(mean=1.0, std=0.1),
                             num_empty_pred=empty, num_cases=4), per_case=[])


def test_row_and_summary_by_hand():
    rows = [row_from_metrics(s, _metrics(d, e), work_dir=f'w{s}')
            for s, d, e in ((0, 80.0, 1), (1, 84.0, 0), (2, 88.0, 2))]
    assert rows[0] == dict(seed=0, dice=80.0, dice_std=1.0, jaccard=70.0, jaccard_std=2.0,
                           hd95=5.0, hd95_std=0.5, asd=1.0, asd_std=0.1, num_empty_pred=1,
                           num_cases=4, work_dir='w0')
    summary = summarize_seeds(rows)
    # mean 84, sample std of (80, 84, 88) = 4
    assert summary['dice'] == dict(mean=84.0, std=4.0, n=3)
    assert summary['jaccard']['mean'] == 74.0
    assert summary['hd95'] == dict(mean=5.0, std=0.0, n=3)
    assert summary['num_empty_pred'] == 3 and summary['num_seeds'] == 3


def test_single_seed_and_missing_values():
    one = summarize_seeds([dict(seed=0, dice=70.0, hd95=None)])
    assert one['dice'] == dict(mean=70.0, std=None, n=1)
    assert one['hd95'] == dict(mean=None, std=None, n=0)
    nan = summarize_seeds([dict(seed=0, dice=float('nan')), dict(seed=1, dice=60.0)])
    assert nan['dice']['n'] == 1 and nan['dice']['mean'] == 60.0


def test_row_needs_summary():
    with pytest.raises(KeyError, match='summary'):
        row_from_metrics(0, dict(per_case=[]))


def test_writers(tmp_path):
    rows = [row_from_metrics(s, _metrics(d)) for s, d in ((0, 80.0), (1, 90.0))]
    table = dict(config='c.py', split='val', seeds=[0, 1], rows=rows,
                 summary=summarize_seeds(rows))
    js, cs, md = write_seeds_table(tmp_path, table)
    assert json.loads(open(js).read())['summary']['dice']['mean'] == 85.0
    lines = list(csv.DictReader(open(cs)))
    assert [r['seed'] for r in lines] == ['0', '1', 'mean', 'std']
    assert math.isclose(float(lines[3]['dice']), math.sqrt(50.0))
    text = open(md).read()
    assert '| 0 | 80.00 +- 1.00 |' in text
    assert '85.00 +- 7.07' in text and format_seeds_markdown(table) == text
