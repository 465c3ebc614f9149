"""docs/custom_data.md: run the ```bash blocks verbatim on the generated example folder.

The commands run in a temporary folder that links ``tools/`` and ``configs/``
of the repository, so their relative outputs (``data/``, ``work_dirs/``)
stay out of the checkout.
"""
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / 'docs' / 'custom_data.md'
_BLOCK = re.compile(r'^```bash\n(.*?)^```', re.DOTALL | re.MULTILINE)


def doc_commands() -> list:
    """The ```bash blocks of the page, in order."""
    return _BLOCK.findall(DOC.read_text(encoding='utf-8'))


def test_doc_has_the_walkthrough():
    text = '\n'.join(doc_commands())
    for needle in ('tools/make_example_nifti.py', 'tools/convert_nifti_folder.py',
                   'tools/make_splits.py --manifest', 'tools/train.py configs/fdpl/custom_nifti.py',
                   'tools/test.py'):
        assert needle in text, needle
    # the flags agreed for the split tool
    assert re.search(r'make_splits\.py --manifest \S+ --labeled \d+ --num-val \d+ '
                     r'--num-test \d+ .*--out-dir \S+', text)


def test_walkthrough_runs_verbatim(tmp_path):
    for name in ('tools', 'configs'):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    script = 'set -euo pipefail\n' + '\n'.join(doc_commands())
    env = {k: v for k, v in os.environ.items() if not k.startswith('FDPL_')}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get('PYTHONPATH')])))
    start = time.time()
    proc = subprocess.run(['bash', '-c', script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    wall = time.time() - start
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]

    manifest = json.loads((tmp_path / 'data/nifti_example_fdpl/manifest.json').read_text())
    assert len(manifest['cases']) == 14
    assert sum(c['label'] is None for c in manifest['cases']) == 6
    split = json.loads(
        (tmp_path / 'data/nifti_example_fdpl/splits/example_labeled4_canonical.json').read_text())
    assert [len(split[p]) for p in ('labeled', 'unlabeled', 'val', 'test')] == [4, 6, 2, 2]

    metrics = json.loads((tmp_path / 'work_dirs/nifti_example_fdpl/test/metrics.json').read_text())
    summary = metrics['summary']
    assert summary['num_cases'] == 2 and len(metrics['per_case']) == 2
    assert {r['case_id'] for r in metrics['per_case']} == set(split['test'])
    for key in ('dice', 'jaccard'):
        assert 0.0 <= summary[key]['mean'] <= 100.0, summary
    for key in ('hd95', 'asd'):
        value = summary[key]['mean']
        assert value is None or (math.isfinite(value) and value >= 0.0), summary
    assert 'dice' in proc.stdout.lower()
    print(f'walk-through wall time: {wall:.1f} s, test Dice {summary["dice"]["mean"]:.1f}')


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-s']))
