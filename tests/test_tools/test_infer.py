"""tools/infer.py: NIfTI / HDF5 / folders in, NIfTI + predictions.csv + env.json out."""
import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TOY_DIR = REPO / 'tests' / 'test_apis'
if str(TOY_DIR) not in sys.path:
    sys.path.insert(0, str(TOY_DIR))
import toy_threshold_net as toy  # noqa: E402


def _tool():
    spec = importlib.util.spec_from_file_location('fdpl_tools_infer', REPO / 'tools' / 'infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture
def setup(tmp_path):
    cfg_file, ckpt = toy.write_model_files(tmp_path)
    scans = tmp_path / 'scans'
    scans.mkdir()
    for i in range(2):
        toy.write_nifti(str(scans / f'case{i}.nii.gz'), toy.volume_xyz(seed=i))
    return cfg_file, ckpt, scans


def test_config_checkpoint_folder(tmp_path, setup, capsys):
    cfg_file, ckpt, scans = setup
    out, show = tmp_path / 'out', tmp_path / 'show'
    tool = _tool()
    code = tool.main([cfg_file, ckpt, str(scans), '--out', str(out), '--save-probs',
                      '--show-dir', str(show), '--mode', 'gaussian', '--overlap', '0.5',
                      '--device', 'cpu'])
    assert code == 0
    printed = capsys.readouterr().out
    assert '| case0 |' in printed and 'mean time per case' in printed
    for i in range(2):
        data = toy.volume_xyz(seed=i)
        pred, src = nib.load(out / f'case{i}.nii.gz'), nib.load(scans / f'case{i}.nii.gz')
        assert pred.shape == src.shape
        np.testing.assert_allclose(pred.affine, src.affine)
        np.testing.assert_array_equal(np.asarray(pred.dataobj), data > toy.THRESHOLD)
        probs = nib.load(out / f'case{i}_probs.nii.gz')
        assert probs.shape == src.shape + (2, )
        assert (show / f'case{i}.png').stat().st_size > 0
    with open(out / 'predictions.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['case'] for r in rows] == ['case0', 'case1']
    voxels = int((toy.volume_xyz(seed=0) > toy.THRESHOLD).sum())
    assert int(rows[0]['foreground_voxels']) == voxels
    assert float(rows[0]['foreground_ml']) == pytest.approx(voxels * 0.8 * 1.1 * 2.5 / 1000,
                                                            rel=1e-5)
    assert rows[0]['output'].endswith('case0.nii.gz') and float(rows[0]['seconds']) > 0
    record = json.loads((out / 'env.json').read_text())
    assert record['kind'] == 'infer'
    assert record['checkpoint']['sha256'] and record['config_file'] == cfg_file
    assert record['inference']['test_cfg']['mode'] == 'gaussian'
    assert [c['case'] for c in record['inputs']] == ['case0', 'case1']
    assert not list(out.glob('.*'))  # no temporary file left

    # a second run into the same folder is refused before any inference ...
    assert tool.main([cfg_file, ckpt, str(scans / 'case1.nii.gz'), '--out', str(out)]) == 2
    assert 'already holds predictions' in capsys.readouterr().err
    # ... unless --overwrite
    assert tool.main([cfg_file, ckpt, str(scans / 'case1.nii.gz'), '--out', str(out),
                      '--overwrite', '--mode', 'whole', '--lcc']) == 0


def test_bad_input_is_named_and_nothing_is_written(tmp_path, setup, capsys):
    cfg_file, ckpt, scans = setup
    bad = toy.volume_xyz()
    bad[0, 0, 0] = np.inf
    toy.write_nifti(str(scans / 'case9.nii.gz'), bad)
    out = tmp_path / 'out'
    assert _tool().main([cfg_file, ckpt, str(scans), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'case9.nii.gz' in err and 'NaN/Inf' in err
    assert not out.exists()
    assert _tool().main([cfg_file, ckpt, str(tmp_path / 'nope.nii.gz'), '--out', str(out)]) == 2
    assert 'nope.nii.gz' in capsys.readouterr().err
    assert _tool().main([cfg_file, ckpt, str(scans), '--out', str(out),
                         '--infer-with', 'net2']) == 2
    assert 'one network' in capsys.readouterr().err


def test_checkpoint_only_command_line(tmp_path, setup):
    """``python tools/infer.py CHECKPOINT INPUT --out DIR`` in a fresh process."""
    _, ckpt, scans = setup
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TOY_DIR), str(REPO)]),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/infer.py', ckpt, str(scans / 'case0.nii.gz'),
                           '--out', str(out), '--device', 'cpu'], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pred = nib.load(out / 'case0.nii.gz')
    np.testing.assert_array_equal(np.asarray(pred.dataobj),
                                  toy.volume_xyz(seed=0) > toy.THRESHOLD)
    record = json.loads((out / 'env.json').read_text())
    assert record['config_file'] == f'meta of {ckpt}'
