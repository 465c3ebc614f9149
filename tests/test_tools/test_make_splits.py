"""tools/make_splits.py on a tiny folder of list files and on a tiny manifest."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fdpl.datasets.splits import file_sha256, load_split

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'make_splits.py'

TRAIN = [f'case{i}' for i in range(10)]
TEST = ['test0', 'test1']


def _tool():
    spec = importlib.util.spec_from_file_location('make_splits_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return _tool()


@pytest.fixture
def lists(tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    (root / 'train.list').write_text(''.join(f'{i}\n' for i in TRAIN))
    (root / 'test.list').write_text(''.join(f'{i}\n' for i in TEST))
    return root


def test_cli_on_list_files(lists, tmp_path):
    """The real command line: canonical + two seeds for two counts."""
    out = tmp_path / 'splits'
    cmd = [sys.executable, str(TOOL), '--data-root', str(lists), '--list', 'train.list',
           '--test-list', 'test.list', '--num-val', '2', '--labeled', '2', '4', '--seeds', '0',
           '1', '--dataset', 'Tiny', '--out-dir', str(out)]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO),
                         timeout=120)
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f'tiny_labeled{n}_{t}.json' for n in (2, 4)
                           for t in ('canonical', 'seed0', 'seed1'))
    assert f'wrote {out / "tiny_labeled2_canonical.json"}: canonical, 2 labeled, 6 unlabeled, ' \
        '2 val, 2 test' in res.stdout
    assert res.stdout.count('\n') == 6
    c = load_split(str(out / 'tiny_labeled4_canonical.json'))
    assert (c['labeled'], c['unlabeled'], c['val'], c['test']) == (
        TRAIN[:4], TRAIN[4:8], TRAIN[8:], TEST)
    assert c['source'] == dict(list='train.list', test_list='test.list', manifest=None,
                               manifest_sha256=None)
    s0 = load_split(str(out / 'tiny_labeled4_seed0.json'))
    s1 = load_split(str(out / 'tiny_labeled4_seed1.json'))
    assert (s0['strategy'], s0['seed']) == ('random', 0)
    assert s0['labeled'] != s1['labeled'] and s0['val'] == s1['val'] == TRAIN[8:]
    assert sorted(s0['labeled'] + s0['unlabeled']) == sorted(TRAIN[:8])


def test_rerun_is_unchanged_and_never_overwrites(tool, lists, tmp_path, capsys):
    args = ['--data-root', str(lists), '--list', 'train.list', '--test-list', 'test.list',
            '--num-val', '2', '--labeled', '3', '--dataset', 'Tiny', '--out-dir',
            str(tmp_path / 'o')]
    assert tool.main(args) == 0
    assert tool.main(args) == 0
    assert 'unchanged' in capsys.readouterr().out
    assert tool.main(args[:6] + ['--num-val', '1'] + args[8:]) == 2
    assert 'exists with other content; pass --force' in capsys.readouterr().err
    assert tool.main(args[:6] + ['--num-val', '1'] + args[8:] + ['--force']) == 0
    assert load_split(str(tmp_path / 'o' / 'tiny_labeled3_canonical.json'))['val'] == TRAIN[9:]


def test_list_errors(tool, lists, tmp_path, capsys):
    base = ['--data-root', str(lists), '--list', 'train.list', '--test-list', 'test.list',
            '--dataset', 'Tiny', '--out-dir', str(tmp_path / 'o')]
    assert tool.main(base + ['--num-val', '2', '--labeled', '9']) == 2
    err = capsys.readouterr().err
    assert '--labeled 9' in err and '8 training cases with a label' in err
    assert tool.main(base + ['--labeled', '2', '--num-test', '1']) == 2
    assert '--num-test goes with --manifest' in capsys.readouterr().err
    (lists / 'test.list').write_text('case3\ntest0\n')
    assert tool.main(base + ['--labeled', '2']) == 2
    assert "share ids: ['case3']" in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


def _manifest(path: Path, cases) -> str:
    path.write_text(json.dumps({
        'format': 'fdpl-manifest/1', 'root': str(path.parent), 'modalities': ['_0000'],
        'cases': [{'id': i, 'images': [f'imagesTr/{i}_0000.nii.gz'],
                   'label': None if lab is None else f'labelsTr/{i}.nii.gz',
                   'spacing': [1.0, 1.0, 1.0], 'shape': [8, 8, 8], 'sha256': {}}
                  for i, lab in cases]}), encoding='utf-8')
    return str(path)


CASES = [('c0', 1), ('u0', None), ('c1', 1), ('c2', 1), ('u1', None), ('c3', 1), ('c4', 1),
         ('c5', 1)]


def test_cli_on_manifest(tool, tmp_path, capsys):
    man = _manifest(tmp_path / 'manifest.json', CASES)
    out = tmp_path / 'splits'
    assert tool.main(['--manifest', man, '--num-val', '1', '--num-test', '1', '--labeled', '2',
                      '--seeds', '0', '1', '2', '--dataset', 'Toy', '--out-dir', str(out)]) == 0
    assert capsys.readouterr().out.count('wrote ') == 4
    c = load_split(str(out / 'toy_labeled2_canonical.json'))
    # manifest order; test = last labeled case, val = the one before, label-less cases unlabeled
    assert (c['labeled'], c['unlabeled'], c['val'], c['test']) == (
        ['c0', 'c1'], ['c2', 'c3', 'u0', 'u1'], ['c4'], ['c5'])
    assert c['source'] == dict(list=None, test_list=None, manifest=man,
                               manifest_sha256=file_sha256(man))
    for k in (0, 1, 2):
        s = load_split(str(out / f'toy_labeled2_seed{k}.json'))
        assert s['unlabeled'][-2:] == ['u0', 'u1']
        assert not {'u0', 'u1'} & set(s['labeled'] + s['val'] + s['test'])
        assert (s['val'], s['test']) == (['c4'], ['c5'])


def test_manifest_errors(tool, tmp_path, capsys):
    man = _manifest(tmp_path / 'manifest.json', CASES)
    common = ['--manifest', man, '--dataset', 'Toy', '--out-dir', str(tmp_path / 'o')]
    # 6 cases with a label, 1 val + 1 test: at most 4 labeled (the 2 without never count)
    assert tool.main(common + ['--num-val', '1', '--num-test', '1', '--labeled', '5']) == 2
    err = capsys.readouterr().err
    assert '--labeled 5' in err and '4 training cases with a label' in err and man in err
    assert tool.main(common + ['--num-val', '3', '--num-test', '3', '--labeled', '1']) == 2
    assert 'leave no labeled training case' in capsys.readouterr().err
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'format': 'other', 'cases': []}))
    assert tool.main(['--manifest', str(bad), '--labeled', '1', '--dataset', 'Toy',
                      '--out-dir', str(tmp_path / 'o')]) == 2
    assert "is not a manifest: key \"format\" must be 'fdpl-manifest/1'" in \
        capsys.readouterr().err
    dup = _manifest(tmp_path / 'dup.json', CASES + [('c0', None)])
    assert tool.main(['--manifest', dup, '--labeled', '1', '--dataset', 'Toy',
                      '--out-dir', str(tmp_path / 'o')]) == 2
    assert "more than once: ['c0']" in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()
