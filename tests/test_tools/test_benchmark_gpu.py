"""tools/benchmark_gpu.sh in its tiny mode, on the CPU, with and without LA data."""
import importlib.util
import json
import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SPLIT = ROOT / 'configs/_base_/splits/la/la_labeled8_canonical.json'


def _tool():
    spec = importlib.util.spec_from_file_location('benchmark_gpu', ROOT / 'tools/benchmark_gpu.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_la(root: Path, n_lab=2, n_unl=2, n_test=1):
    """LA h5 files (W, H, D) = (32, 32, 20) for the first ids of the 10 % split."""
    split = json.loads(SPLIT.read_text())
    ids = split['labeled'][:n_lab] + split['unlabeled'][:n_unl] + split['test'][:n_test]
    rng = np.random.default_rng(0)
    for case in ids:
        path = root / 'LA' / '2018LA_Seg_Training Set' / case / 'mri_norm2.h5'
        path.parent.mkdir(parents=True)
        label = np.zeros((32, 32, 20), np.uint8)
        label[8:24, 8:24, 5:15] = 1
        with h5py.File(path, 'w') as f:
            f['image'] = (rng.standard_normal((32, 32, 20)) + label).astype(np.float32)
            f['label'] = label
    (root / 'LA' / 'train.list').write_text('\n'.join(split['labeled'] + split['unlabeled']))
    (root / 'LA' / 'test.list').write_text('\n'.join(split['test']))
    return ids


def _run(out: Path, data_root: Path, *extra):
    env = dict(os.environ, FDPL_DATA_ROOT=str(data_root), OMP_NUM_THREADS='1')
    env.pop('OUT', None)
    proc = subprocess.run(['bash', str(ROOT / 'tools/benchmark_gpu.sh'), str(out), '--tiny',
                           *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads((out / 'summary.json').read_text())


def test_parse_train_log(tmp_path):
    log = tmp_path / 'log.txt'
    log.write_text(
        '12/06 10:00:00 - mmengine - INFO - other\n'
        '12/06 10:00:10 - mmengine - INFO - Iter(train) [ 10/900]  lr: 1e-2  '
        'eta: 1:00:00  time: 1.5000  data_time: 0.01  memory: 3000  loss: 1\n'
        '12/06 10:00:20 - mmengine - INFO - Iter(train) [ 20/900]  lr: 1e-2  '
        'eta: 1:00:00  time: 1.1000  data_time: 0.01  memory: 3100  loss: 1\n'
        '12/06 10:00:40 - mmengine - INFO - Iter(train) [ 40/900]  lr: 1e-2  '
        'eta: 1:00:00  time: 1.0500  data_time: 0.01  memory: 3100  loss: 1\n')
    out = _tool().parse_train_log(str(log))
    assert out['iters_done'] == 40 and out['logged_points'] == 3
    assert out['seconds_per_iter_logged'] == 1.05
    assert out['seconds_per_iter_wall'] == pytest.approx(1.0)  # (40 - 20) s / (40 - 20) iters
    assert out['peak_memory_mib_logged'] == 3100


def test_data_status_and_subset_split(tmp_path):
    tool = _tool()
    assert tool.data_status(str(tmp_path), str(SPLIT))['status'] == 'absent'
    ids = _fake_la(tmp_path)
    status = tool.data_status(str(tmp_path), str(SPLIT))
    assert status['status'] == 'subset'
    assert status['counts'] == dict(labeled='2/8', unlabeled='2/56', val='0/16', test='1/20')
    split = json.loads(Path(tool.write_subset_split(status, str(SPLIT),
                                                    str(tmp_path / 's.json'))).read_text())
    assert split['labeled'] + split['unlabeled'] + split['test'] == ids
    assert split['labeled_num'] == 2 and split['val'] == []


def test_tiny_without_data(tmp_path):
    stdout, summary = _run(tmp_path / 'out', tmp_path / 'nodata')
    assert 'LA data: none' in stdout
    assert [(r['model'], r['amp']) for r in summary['speed']] == [
        ('supervised', False), ('supervised', True), ('fdpl', False), ('fdpl', True)]
    assert all(r['batches'] == 'random' and r['iters_per_second'] > 0 for r in summary['speed'])
    assert {r['mode'] for r in summary['sliding_window']} == {
        'classic', 'fast (gaussian 0.5)', 'whole'}
    assert 'no LA data' in summary['train']['skipped']
    md = (tmp_path / 'out' / 'summary.md').read_text()
    assert '## Training speed' in md and 'Skipped: no LA data' in md


@pytest.mark.slow  # 25 s on an idle machine, 90 s on the shared one (it trains)
def test_tiny_with_a_subset_trains_and_extrapolates(tmp_path):
    _fake_la(tmp_path / 'data')
    _, summary = _run(tmp_path / 'out', tmp_path / 'data')
    assert summary['data']['status'] == 'subset'
    assert all(r['batches'] == 'real' for r in summary['speed'])
    train = summary['train']
    assert train['returncode'] == 0, train.get('error_tail')
    assert train['iters_done'] == train['max_iters'] == 2
    assert train['full_schedule_iters'] == 9000 and train['full_schedule_train_hours'] > 0
