"""tools/run_seeds.py on the tiny FDPL config: two seeds at once, then resumed, then refused."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / 'tests' / 'data' / 'configs' / 'fdpl_tiny.py'


def _run(args, data_root, check=True):
    env = dict(os.environ, FDPL_DATA_ROOT=str(data_root), OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/run_seeds.py'] + [str(a) for a in args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def test_run_seeds_table_resume_and_refusal(tmp_path):
    data, work = tmp_path / 'data', tmp_path / 'seeds'
    args = [TINY, '--seeds', '0', '1', '--jobs', '2', '--split', 'val', '--work-dir', work]
    first = _run(args, data)
    table = json.loads((work / 'seeds_table_val.json').read_text())
    assert [r['seed'] for r in table['rows']] == [0, 1]
    for row in table['rows']:
        assert row['num_cases'] == 2 and 0.0 <= row['dice'] <= 100.0
        assert row['checkpoint'].endswith('iter_4.pth') and row['train_wall_s'] > 0
        assert (work / f"seed_{row['seed']}" / 'test_val' / 'metrics.json').is_file()
    assert table['summary']['dice']['n'] == 2
    # FDPL: the headline (SN1) plus a column per predictor, summarized over seeds too
    for row in table['rows']:
        assert row['headline'] == 'net1' and row['dice'] == row['net1/dice']
        assert {'net2/dice', 'mean/dice', 'mean/hd95_std'} <= set(row)
    assert table['summary']['mean/dice']['n'] == 2
    assert 'Dice % SN1 | Dice % SN2 | Dice % mean' in first.stdout
    # different seeds train differently
    assert table['rows'][0]['dice'] != table['rows'][1]['dice'] or \
        table['rows'][0]['hd95'] != table['rows'][1]['hd95']
    for ext in ('csv', 'md'):
        assert (work / f'seeds_table_val.{ext}').stat().st_size > 0
    assert 'mean over seeds' in first.stdout

    # resumable: finished seeds are not run again, a new seed is added to the table
    again = _run(args, data)
    assert '[seed 0] already tested' in again.stdout and '] training' not in again.stdout
    assert json.loads((work / 'seeds_table_val.json').read_text())['rows'] == table['rows']

    # another evaluation setting reuses the trained seeds and writes its own table
    test = _run([TINY, '--seeds', '0', '1', '--work-dir', work], data)
    assert '] training' not in test.stdout and test.stdout.count('testing') == 2
    test_table = json.loads((work / 'seeds_table.json').read_text())
    assert test_table['split'] == 'test' and all(r['num_cases'] == 2 for r in test_table['rows'])

    # other training settings on the same folder are refused, naming what differs
    refused = _run(args + ['--cfg-options', 'model.noise=0.0'], data, check=False)
    assert refused.returncode != 0 and 'cfg_options' in refused.stderr
