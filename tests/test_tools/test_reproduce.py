"""tools/reproduce.py: documented rows, the run_seeds command and the inside/outside rule."""
import importlib.util
import json
from pathlib import Path

import pytest

from fdpl.utils.reproduce import (compare_to_documented, find_row, format_cfg_options,
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
    assert {'synthetic_supervised', 'synthetic_fdpl'} <= set(ids)
    for row in rows:
        assert (REPO / row['config']).is_file(), row['config']
        assert set(row['documented']) == {'dice', 'jaccard', 'hd95', 'asd'}
    fdpl_row = find_row(rows, 'synthetic_fdpl')
    assert fdpl_row['seeds'] == [0, 1, 2] and fdpl_row['documented']['dice']['mean'] == 81.74
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


def _reproduce(capsys, *args):
    """Run tools/reproduce.py's main() here; returns (exit status, stdout)."""
    spec = importlib.util.spec_from_file_location('fdpl_tools_reproduce',
                                                  REPO / 'tools' / 'reproduce.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capsys.readouterr()
    status = module.main([str(a) for a in args])
    return status, capsys.readouterr().out


def test_dry_run_compares_a_hand_written_seeds_table(tmp_path, capsys):
    status, out = _reproduce(capsys, 'synthetic_fdpl', '--work-dir', tmp_path, '--dry-run',
                             '--jobs', 2)
    assert status == 0
    assert '+ OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ' in out
    assert 'tools/run_seeds.py configs/fdpl/vnet_synthetic.py --seeds 0 1 2 --split test' \
        in out and f'--work-dir {tmp_path} --checkpoint last --jobs 2' in out
    assert 'nothing to compare' in out

    table = dict(config='configs/fdpl/vnet_synthetic.py', seeds=[0, 1, 2], split='test',
                 cfg_options={}, rows=[],
                 summary=dict(dice=dict(mean=82.3, std=0.7, n=3),
                              jaccard=dict(mean=71.0, std=1.0, n=3),
                              hd95=dict(mean=14.0, std=0.4, n=3),
                              asd=dict(mean=3.5, std=0.1, n=3), num_empty_pred=0))
    (tmp_path / 'seeds_table.json').write_text(json.dumps(table))
    status, out = _reproduce(capsys, 'synthetic_fdpl', '--work-dir', tmp_path, '--dry-run',
                             '--strict')
    assert status == 0 and 'Verdict (dice): INSIDE' in out
    assert '81.74 +- 0.82' in out and '82.30 +- 0.70, n=3' in out
    saved = json.loads((tmp_path / 'reproduce.json').read_text())
    assert [c['status'] for c in saved['comparison']] == [
        'inside', 'within 2 std', 'outside', 'inside']
    assert saved['notes'] == ['the documented std uses ddof=0; the rule uses it as documented '
                              '(seeds_table.json reports its own std next to it)']

    table['summary']['dice']['mean'] = 84.0
    table['seeds'] = [0, 1]
    (tmp_path / 'seeds_table.json').write_text(json.dumps(table))
    status, out = _reproduce(capsys, 'synthetic_fdpl', '--work-dir', tmp_path, '--dry-run',
                             '--strict')
    assert status == 1 and 'Verdict (dice): OUTSIDE' in out
    assert 'the table has seeds [0, 1]' in out
    status, out = _reproduce(capsys, '--list')
    assert status == 0 and 'synthetic_supervised: ' in out


def test_dry_run_reads_the_table_of_the_rows_split(tmp_path, capsys):
    """A development-split row compares run_seeds' ``seeds_table_val.json``."""
    rows = json.loads(ROWS.read_text())
    row = dict(rows['rows'][0], id='dev_row', split='val', checkpoint='last')
    rows_file = tmp_path / 'rows.json'
    rows_file.write_text(json.dumps(dict(rows, rows=[row])))
    work = tmp_path / 'work'
    work.mkdir()
    summary = dict(dice=dict(mean=row['documented']['dice']['mean'], std=0.1, n=3),
                   num_empty_pred=0)
    (work / 'seeds_table.json').write_text(json.dumps(dict(summary=dict(
        summary, dice=dict(mean=0.0, std=0.0, n=3)), seeds=row['seeds'], rows=[])))
    (work / 'seeds_table_val.json').write_text(json.dumps(dict(summary=summary,
                                                               seeds=row['seeds'], rows=[])))
    status, out = _reproduce(capsys, 'dev_row', '--rows', rows_file, '--work-dir', work,
                             '--dry-run', '--strict')
    assert status == 0 and 'Verdict (dice): INSIDE' in out and '--split val' in out
    assert (work / 'reproduce_val.json').is_file() and not (work / 'reproduce.json').exists()
