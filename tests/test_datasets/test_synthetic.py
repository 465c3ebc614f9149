"""Tests of the synthetic LA-like data: determinism, idempotence, versioning, layout,
sanity and case-to-case variation."""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from fdpl.datasets import SyntheticLADataset, generate_synthetic_la, synthesize_la_volume
from fdpl.datasets import synthetic
from fdpl.datasets.synthetic import CASE_DIR, CASE_FILE, MANIFEST, draw_case_style

SMALL = dict(num_train=4, num_test=2, shape=(16, 32, 32))


def _files(root: Path):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_volume_shapes_and_label_sanity():
    for i in range(3):
        img, lab = synthesize_la_volume(np.random.default_rng([0, 0, i]), (24, 48, 48))
        assert img.shape == lab.shape == (24, 48, 48)
        assert img.dtype == np.float32 and lab.dtype == np.uint8
        assert set(np.unique(lab).tolist()) == {0, 1}
        assert 0.005 < lab.mean() < 0.3
        # foreground brighter than background on average, but not trivially separable
        fg, bg = img[lab == 1], img[lab == 0]
        assert fg.mean() > bg.mean() + 0.5 * img.std()
        assert (bg > np.percentile(fg, 25)).mean() > 0.001


def test_same_rng_same_volume():
    a = synthesize_la_volume(np.random.default_rng([5, 0, 1]), (16, 32, 32))
    b = synthesize_la_volume(np.random.default_rng([5, 0, 1]), (16, 32, 32))
    c = synthesize_la_volume(np.random.default_rng([6, 0, 1]), (16, 32, 32))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert draw_case_style(np.random.default_rng(3)) == draw_case_style(np.random.default_rng(3))


def test_case_style_ranges_are_wide():
    """The factors that make cases differ span wide ranges over a pool of cases."""
    styles = [draw_case_style(np.random.default_rng([0, 0, i])) for i in range(200)]

    def spread(key):
        v = np.array([s[key] for s in styles], dtype=float)
        return np.percentile(v, 5), np.percentile(v, 95)

    lo, hi = spread('size')
    assert hi / lo > 1.5  # chamber linear size, so > 3x in volume
    lo, hi = spread('scale')
    assert hi / lo > 2.5  # intensity scale after normalization
    lo, hi = spread('cnr')
    assert hi / lo > 2.0  # noise level relative to the contrast
    lo, hi = spread('contrast')
    assert hi / lo > 2.0
    lo, hi = spread('bias')
    assert hi - lo > 0.4
    assert {s['chamber2'] for s in styles} == {True, False}
    assert len({s['blobs'] for s in styles}) >= 3


def test_rendered_cases_vary():
    """Foreground volume and intensity scale differ across rendered cases."""
    fg_frac, img_std, fg_mean = [], [], []
    for i in range(8):
        img, lab = synthesize_la_volume(np.random.default_rng([0, 0, i]), (16, 32, 32))
        fg_frac.append(lab.mean())
        img_std.append(img.std())
        fg_mean.append(img[lab == 1].mean())
    assert max(fg_frac) / min(fg_frac) > 2.0
    assert max(img_std) / min(img_std) > 1.5
    assert np.std(fg_mean) > 0.3


def test_layout_deterministic_and_idempotent(tmp_path):
    r1 = Path(generate_synthetic_la(str(tmp_path / 'a'), seed=3, **SMALL))
    r2 = Path(generate_synthetic_la(str(tmp_path / 'b'), seed=3, **SMALL))
    f1, f2 = _files(r1), _files(r2)
    assert f1 == f2  # same seed, same bytes
    assert (r1 / 'train.list').read_text().split() == [f'synth_train_{i:03d}' for i in range(4)]
    assert (r1 / 'test.list').read_text().split() == ['synth_test_000', 'synth_test_001']
    with h5py.File(r1 / CASE_DIR / 'synth_train_000' / CASE_FILE, 'r') as f:
        assert f['image'].shape == f['label'].shape == (32, 32, 16)  # stored (W, H, D)
        assert f['image'].dtype == np.float32 and f['label'].dtype == np.uint8
    manifest = json.loads((r1 / MANIFEST).read_text())
    assert manifest['seed'] == 3 and manifest['version'] == synthetic.SYNTHETIC_LA_VERSION

    # idempotent: a second call rewrites nothing
    case = r1 / CASE_DIR / 'synth_train_001' / CASE_FILE
    mtime = case.stat().st_mtime_ns
    generate_synthetic_la(str(r1), seed=3, **SMALL)
    assert case.stat().st_mtime_ns == mtime

    # another seed regenerates different data in place
    generate_synthetic_la(str(r1), seed=4, **SMALL)
    assert json.loads((r1 / MANIFEST).read_text())['seed'] == 4
    assert _files(r1)[f'{CASE_DIR}/synth_train_000/{CASE_FILE}'] != \
        f2[f'{CASE_DIR}/synth_train_000/{CASE_FILE}']
    # an incomplete folder is completed
    case.unlink()
    generate_synthetic_la(str(r1), seed=4, **SMALL)
    assert case.is_file()


def test_version_change_regenerates(tmp_path, monkeypatch):
    """Data written by another generator version is replaced, not reused."""
    root = tmp_path / 'syn'
    current = synthetic.SYNTHETIC_LA_VERSION
    monkeypatch.setattr(synthetic, 'SYNTHETIC_LA_VERSION', current - 1)
    generate_synthetic_la(str(root), **SMALL)
    assert json.loads((root / MANIFEST).read_text())['version'] == current - 1
    case = root / CASE_DIR / 'synth_train_000' / CASE_FILE
    case.write_bytes(b'stale')  # what an older generator left there
    monkeypatch.undo()
    generate_synthetic_la(str(root), **SMALL)
    assert json.loads((root / MANIFEST).read_text())['version'] == current
    assert case.read_bytes() != b'stale'
    with h5py.File(case, 'r') as f:
        assert f['image'].shape == (32, 32, 16)


def test_refuses_foreign_folder(tmp_path):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not synthetic LA data'):
        generate_synthetic_la(str(tmp_path / 'mine'), **SMALL)
    with pytest.raises(ValueError, match='shape'):
        generate_synthetic_la(str(tmp_path / 'x'), shape=(4, 32, 32))


def test_dataset_generates_then_reads(tmp_path):
    root = str(tmp_path / 'syn')
    lab = SyntheticLADataset(data_root=root, generate=SMALL, subset='labeled', labeled_num=2,
                             num_val=1, validate=True, serialize_data=False)
    unl = SyntheticLADataset(data_root=root, generate=SMALL, subset='unlabeled',
                             labeled_num=2, num_val=1, serialize_data=False)
    test = SyntheticLADataset(data_root=root, generate=SMALL, ann_file='test.list',
                              serialize_data=False)
    assert [lab.get_data_info(i)['case_id'] for i in range(len(lab))] == \
        ['synth_train_000', 'synth_train_001']
    assert len(unl) == 1 and unl.get_data_info(0)['labeled'] is False
    assert len(test) == 2
    assert lab.metainfo['classes'] == ('background', 'left_atrium')
