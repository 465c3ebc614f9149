"""tools/reproduce.py: dry runs against a seeds table (row logic: tests/test_provenance)."""
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROWS = REPO / 'docs' / 'results_rows.json'


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
                 summary=dict(dice=dict(mean=77.0, std=3.0, n=3),
                              jaccard=dict(mean=72.0, std=2.0, n=3),
                              hd95=dict(mean=25.0, std=1.0, n=3),
                              asd=dict(mean=5.5, std=0.5, n=3), num_empty_pred=0))
    (tmp_path / 'seeds_table.json').write_text(json.dumps(table))
    status, out = _reproduce(capsys, 'synthetic_fdpl', '--work-dir', tmp_path, '--dry-run',
                             '--strict')
    assert status == 0 and 'Verdict (dice): INSIDE' in out
    assert '75.41 +- 4.82' in out and '77.00 +- 3.00, n=3' in out
    saved = json.loads((tmp_path / 'reproduce.json').read_text())
    assert [c['status'] for c in saved['comparison']] == [
        'inside', 'within 2 std', 'outside', 'inside']
    assert saved['notes'] == ['the documented std uses ddof=1; the rule uses it as documented '
                              '(seeds_table.json reports its own std next to it)']

    table['summary']['dice']['mean'] = 90.0
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
