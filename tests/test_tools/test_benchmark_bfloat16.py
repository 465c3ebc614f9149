"""tools/benchmark_bfloat16.py on a tiny V-Net: the table and the JSON it writes."""
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_speed_gradient_and_conv_probe(tmp_path):
    out = tmp_path / 'bf16.json'
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/benchmark_bfloat16.py'), '--base-channels', '2',
         '--patch', '16', '16', '16', '--batch', '2', '--repeats', '1', '--threads', '1',
         '--out', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'conv3d weight-gradient error' in proc.stdout and '| 2x4x4 |' in proc.stdout
    res = json.loads(out.read_text())
    assert res['step_s']['float32'] > 0 and res['step_s']['bfloat16'] > 0
    assert -1 <= res['grad_cosine'] <= 1 and 0 <= res['argmax_differ'] <= 1
    assert list(res['conv_grad_error']) == ['1x4x4', '2x2x2', '2x4x4', '3x4x4', '4x8x8']
    # where the kernels are right the error is bfloat16 rounding (~0.4 %), never zero
    ok = [e for e in res['conv_grad_error'].values() if math.isfinite(e) and e < 0.05]
    assert ok and all(0 < e < 0.02 for e in ok)
