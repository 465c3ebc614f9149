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


def _fdpl_metrics(dices):
    """metrics.json of a two-network model: headline net1, dices per predictor."""
    per = {name: dict(_metrics(d)['summary']) for name, d in dices.items()}
    return dict(summary=per['net1'], per_case=[], headline='net1', per_predictor=per)


def test_predictor_columns(tmp_path):
    rows = [row_from_metrics(s, _fdpl_metrics(dict(net1=a, net2=b, mean=c)))
            for s, (a, b, c) in enumerate(((80.0, 82.0, 84.0), (84.0, 80.0, 86.0)))]
    assert rows[0]['headline'] == 'net1' and rows[0]['dice'] == 80.0
    assert rows[0]['net2/dice'] == 82.0 and rows[0]['mean/dice_std'] == 1.0
    assert rows[1]['mean/hd95'] == 5.0
    summary = summarize_seeds(rows)
    assert summary['dice'] == summary['net1/dice'] == dict(mean=82.0, std=math.sqrt(8.0), n=2)
    assert summary['net2/dice'] == dict(mean=81.0, std=math.sqrt(2.0), n=2)
    assert summary['mean/dice']['mean'] == 85.0 and summary['mean/jaccard']['mean'] == 75.0
    table = dict(config='c.py', split='val', seeds=[0, 1], rows=rows, summary=summary)
    text = format_seeds_markdown(table)
    head = [line for line in text.splitlines() if line.startswith('| seed')][0]
    assert head.endswith('| Dice % SN1 | Dice % SN2 | Dice % mean | empty predictions | cases |')
    assert 'predictor net1' in text
    assert '| 0 | 80.00 +- 1.00 | 70.00 +- 2.00 | 5.00 +- 0.50 | 1.00 +- 0.10 | 80.00 +- 1.00 | ' \
        '82.00 +- 1.00 | 84.00 +- 1.00 |' in text
    assert '| mean over seeds | 82.00 +- 2.83 |' in text and '| 85.00 +- 1.41 |' in text
    _, cs, _ = write_seeds_table(tmp_path, table)
    lines = list(csv.DictReader(open(cs)))
    assert float(lines[2]['net2/dice']) == 81.0 and float(lines[3]['mean/dice']) == \
        pytest.approx(math.sqrt(2.0))
