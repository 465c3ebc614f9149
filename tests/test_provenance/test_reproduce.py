"""fdpl.provenance.reproduce: result rows, the run_seeds command, the inside/outside rule."""
import json
from pathlib import Path

import pytest

from fdpl.provenance.reproduce import (compare_to_documented, find_row, format_cfg_options,
                                       format_comparison, load_results_rows, run_seeds_command,
                                       verdict)

REPO = Path(__file__).resolve().parents[2]
ROWS = REPO / 'docs' / 'results_rows.json'
DOC = dict(dice=dict(mean=80.0, std=1.0), hd95=dict(mean=10.0, std=0.5))


def _summary(dice, hd95=None):
    out = dict(dice=dict(mean=dice, std=0.3, n=3), num_empty_pred=0)
    if hd95 is not None:
        out['hd95'] = dict(mean=hd95, std=0.1, n=3)
    return out


def test_inside_within_two_std_and_outside():
    inside = compare_to_documented(DOC, _summary(80.9, 10.2))
    assert [c['status'] for c in inside] == ['inside', 'inside'] and verdict(inside) == 'inside'
    assert inside[0]['diff'] == pytest.approx(0.9) and inside[0]['within_1std']
    edge = compare_to_documented(DOC, _summary(79.0))  # |diff| == std counts as inside
    assert edge[0]['status'] == 'inside' and edge[1]['status'] == 'missing'
    two = compare_to_documented(DOC, _summary(78.5, 11.5))
    assert [c['status'] for c in two] == ['within 2 std', 'outside']
    assert two[0]['within_1std'] is False and two[0]['within_2std'] is True
    assert verdict(compare_to_documented(DOC, {'dice': 70.0})) == 'outside'
    text = format_comparison(dict(id='r', description='d', source='s'), two, ['seeds differ'])
    assert '|your mean - documented mean| <= documented std' in text
    assert 'Verdict (dice): WITHIN 2 STD' in text and 'note: seeds differ' in text
    assert '80.00 +- 1.00' in text and '78.50 +- 0.30, n=3' in text and '-1.50' in text


def test_repository_rows_file():
    rows = load_results_rows(str(ROWS))
    ids = [r['id'] for r in rows]
    assert {'synthetic_supervised', 'synthetic_fdpl', 'synthetic_full'} <= set(ids)
    for row in rows:
        assert (REPO / row['config']).is_file(), row['config']
        assert set(row['documented']) == {'dice', 'jaccard', 'hd95', 'asd'}
    fdpl_row = find_row(rows, 'synthetic_fdpl')
    assert fdpl_row['seeds'] == [0, 1, 2] and fdpl_row['documented']['dice']['mean'] == 75.41
    assert 'tools/demo.py' in fdpl_row['description']
    with pytest.raises(KeyError, match='synthetic_fdpl'):
        find_row(rows, 'nope')


def test_rows_file_validation(tmp_path):
    bad = tmp_path / 'rows.json'
    bad.write_text(json.dumps(dict(format='fdpl-results-rows/1', rows=[dict(id='x')])))
    with pytest.raises(ValueError, match=r"row 0 \('x'\) lacks"):
        load_results_rows(str(bad))
    row = dict(id='x', description='', config='c.py', seeds=[0], split='test', source='',
               documented=dict(dice=dict(mean=1.0)))
    bad.write_text(json.dumps(dict(format='fdpl-results-rows/1', rows=[row])))
    with pytest.raises(ValueError, match=r"documented\['dice'\]"):
        load_results_rows(str(bad))
    with pytest.raises(FileNotFoundError):
        load_results_rows(str(tmp_path / 'missing.json'))


def test_run_seeds_command():
    row = dict(config='configs/a.py', seeds=[0, 2], split='val', checkpoint='best',
               cfg_options={'model.noise': 0.0, 'train_cfg.max_iters': 300, 'a.b': [1, 2],
                            'c': 'x'})
    cmd = run_seeds_command(row, '/w', jobs=2, python='py')
    assert cmd == ['py', 'tools/run_seeds.py', 'configs/a.py', '--seeds', '0', '2', '--split',
                   'val', '--work-dir', '/w', '--checkpoint', 'best', '--jobs', '2',
                   '--cfg-options', 'model.noise=0.0',
                   'train_cfg.max_iters=300', 'a.b=[1,2]', 'c=x']
    assert format_cfg_options({}) == []
