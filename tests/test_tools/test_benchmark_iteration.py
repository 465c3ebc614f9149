"""tools/benchmark_iteration.py on tiny configs: stage table, ratios, JSON, profile, memory."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY_FDPL = ROOT / 'tests/data/configs/fdpl_tiny.py'


def test_stage_table_ratios_profile_and_memory(tmp_path):
    sup = tmp_path / 'sup_tiny.py'
    sup.write_text(f"_base_ = ['{ROOT / 'configs/supervised/vnet_synthetic.py'}']\n"
                   "model = dict(backbone=dict(base_channels=2))\n")
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/benchmark_iteration.py'), str(sup), str(TINY_FDPL),
         '--iters', '1', '--warmup', '0', '--threads', '1', '--profile', str(tmp_path / 'prof'),
         '--memory', '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    for stage in ('supervised step', 'pseudo-labels', 'teacher', 'student step (both nets)',
                  'backward', 'torch.profiler', 'peak memory'):
        assert stage in text, stage
    result = json.loads(out.read_text())
    pair = result['pairs']['fdpl_tiny']
    assert result['threads'] == 1 and pair['fdpl_batch'] == '2+2'
    for clock in ('wall', 'cpu'):
        r = pair[clock]
        assert r['fdpl_total'] > 0 and r['fdpl_over_sup'] > 0
        assert 0 < r['pseudo_label_share'] < 1
        assert abs(r['pseudo_labels'] + r['student_step'] - r['fdpl_total']) < 1e-9
    stages = pair['median_seconds']['cpu']
    assert {'pl/teacher', 'pl/label', 'student/backward', 'sup/forward+loss'} <= set(stages)
    memory = result['memory']['fdpl_tiny']
    assert set(memory['fdpl']['phases_mib']) == {'pseudo_labels', 'students'}
    assert memory['sup']['peak_increase_mib'] >= 0
    assert sorted(p.name for p in (tmp_path / 'prof').iterdir()) == [
        'fdpl_tiny_fdpl.json', 'fdpl_tiny_supervised.json']
