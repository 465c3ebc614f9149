"""VolSegInferencer and init_model on a backbone that thresholds the intensity.

The expected label of every voxel is known (``mean_c(x) > 0.5``), so the
tests check that a prediction lands exactly on the input's voxel grid: same
affine, same shape, same axis order, the expected voxels.
"""
import os
import sys

import h5py
import nibabel as nib
import numpy as np
import pytest
import torch

from fdpl.apis import VolSegInferencer, collect_cases, init_model
from fdpl.apis.outputs import atomic_write

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import toy_threshold_net as toy  # noqa: E402


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture
def model_files(tmp_path):
    return toy.write_model_files(tmp_path)


def _expected_xyz(data_xyz):
    return (data_xyz > toy.THRESHOLD).astype(np.uint8)


def test_round_trip_nifti_geometry_and_labels(tmp_path, model_files):
    data = toy.volume_xyz()
    src = toy.write_nifti(str(tmp_path / 'scan.nii.gz'), data)
    inferencer = VolSegInferencer(*model_files, device='cpu')
    [result] = inferencer(src, out_dir=str(tmp_path / 'out'))
    # the returned map is fdpl's (D, H, W) = nibabel (z, y, x)
    np.testing.assert_array_equal(result['pred'], _expected_xyz(data).transpose(2, 1, 0))
    out = nib.load(result['output'])
    source = nib.load(src)
    assert out.shape == source.shape
    np.testing.assert_allclose(out.affine, source.affine)
    assert nib.aff2axcodes(out.affine) == nib.aff2axcodes(source.affine)
    assert out.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(out.dataobj), _expected_xyz(data))
    # volume in ml from the spacing 0.8 x 1.1 x 2.5 mm
    assert result['foreground_voxels'] == int(_expected_xyz(data).sum())
    assert result['foreground_ml'] == pytest.approx(result['foreground_voxels'] * 2.2 / 1000)
    assert (tmp_path / 'out' / 'predictions.csv').is_file()
    assert (tmp_path / 'out' / 'env.json').is_file()


@pytest.mark.parametrize('mode', ['gaussian', 'whole'])
def test_modes_give_the_same_pointwise_labels(tmp_path, model_files, mode):
    data = toy.volume_xyz(seed=3)
    src = toy.write_nifti(str(tmp_path / 'scan.nii.gz'), data)
    inferencer = VolSegInferencer(*model_files, device='cpu', mode=mode, overlap=0.25)
    assert inferencer.test_cfg['mode'] == mode
    [result] = inferencer(src, return_probs=True)
    np.testing.assert_array_equal(result['pred'], _expected_xyz(data).transpose(2, 1, 0))
    assert result['probs'].shape == (2, ) + result['pred'].shape
    np.testing.assert_allclose(result['probs'].sum(0), 1.0, atol=1e-5)


def test_resampling_pipeline_predicts_on_the_source_grid(tmp_path):
    pipeline = [dict(type='LoadNiftiVolume'), dict(type='Resample3D', scale=0.5, keys=('img', )),
                dict(type='PackVolSegInputs')]
    cfg = toy.make_config(pipeline=pipeline)
    ckpt = toy.save_checkpoint(cfg, str(tmp_path / 'toy.pth'))
    zz, yy, xx = np.meshgrid(*(np.arange(s) for s in (12, 22, 26)), indexing='ij')
    ball = ((xx - 13) ** 2 / 64 + (yy - 11) ** 2 / 49 + (zz - 6) ** 2 / 16) < 1
    src = toy.write_nifti(str(tmp_path / 'ball.nii.gz'), ball.transpose(2, 1, 0).astype(np.float32))
    [result] = VolSegInferencer(weights=ckpt, device='cpu')(src, out_dir=str(tmp_path / 'out'))
    out, source = nib.load(result['output']), nib.load(src)
    assert out.shape == source.shape == (26, 22, 12)
    np.testing.assert_allclose(out.affine, source.affine)
    pred = result['pred'].astype(bool)
    dice = 2 * (pred & ball).sum() / (pred.sum() + ball.sum())
    assert dice > 0.8  # down and up again: close to, not exactly, the ball


def test_h5_input_keeps_stored_axes_and_affine(tmp_path, model_files):
    data = toy.volume_xyz(shape_xyz=(16, 12, 8), seed=1)  # stored (W, H, D)
    affine = toy.rotated_affine(spacing=(0.625, 0.625, 1.25))
    src = toy.write_h5(str(tmp_path / 'case.h5'), data, affine=affine,
                       spacing=(0.625, 0.625, 1.25), case_id='LA01')
    [result] = VolSegInferencer(*model_files, device='cpu')(src, out_dir=str(tmp_path / 'o'))
    assert result['case_id'] == 'LA01'
    assert result['output'].endswith('LA01.nii.gz')
    out = nib.load(result['output'])
    assert out.shape == data.shape
    np.testing.assert_allclose(out.affine, affine)
    np.testing.assert_array_equal(np.asarray(out.dataobj), _expected_xyz(data))
    assert result['foreground_ml'] == pytest.approx(
        result['foreground_voxels'] * 0.625 * 0.625 * 1.25 / 1000)


def test_folder_input_mixes_nifti_and_h5(tmp_path, model_files):
    folder = tmp_path / 'scans'
    folder.mkdir()
    for i in range(2):
        toy.write_nifti(str(folder / f'case{i}.nii.gz'), toy.volume_xyz(seed=i))
    toy.write_h5(str(folder / 'case2.h5'), toy.volume_xyz(shape_xyz=(8, 8, 8), seed=2))
    (folder / 'notes.txt').write_text('not an image')
    results = VolSegInferencer(*model_files, device='cpu')(str(folder))
    assert [r['case_id'] for r in results] == ['case0', 'case1', 'case2']
    for i, r in enumerate(results):
        shape = (8, 8, 8) if i == 2 else (20, 18, 9)
        np.testing.assert_array_equal(
            r['pred'], _expected_xyz(toy.volume_xyz(shape_xyz=shape, seed=i)).transpose(2, 1, 0))
    assert results[2]['spacing'] is None and results[2]['foreground_ml'] is None


def test_per_case_folders_with_equal_file_names(tmp_path, model_files):
    """LA's layout: <id>/mri_norm2.h5 -> the case ids are the folder names."""
    for case in ('A1', 'B2'):
        (tmp_path / 'LA' / case).mkdir(parents=True)
        toy.write_h5(str(tmp_path / 'LA' / case / 'mri_norm2.h5'), toy.volume_xyz((8, 8, 8)))
    cases = collect_cases(str(tmp_path / 'LA'))
    assert [c['id'] for c in cases] == ['A1', 'B2']


def test_several_modalities(tmp_path):
    cfg = toy.make_config(in_channels=2)
    ckpt = toy.save_checkpoint(cfg, str(tmp_path / 'toy2.pth'))
    folder = tmp_path / 'brats' / 'P7'
    folder.mkdir(parents=True)
    a, b = toy.volume_xyz(seed=4), toy.volume_xyz(seed=5)
    first = toy.write_nifti(str(folder / 'P7_flair.nii.gz'), a)
    toy.write_nifti(str(folder / 'P7_t1.nii.gz'), b)
    expected = ((a + b) / 2 > toy.THRESHOLD).astype(np.uint8).transpose(2, 1, 0)
    inferencer = VolSegInferencer(weights=ckpt, device='cpu')
    # a folder of one folder per case, as tools/convert_nifti_folder.py names it
    [r1] = inferencer(str(tmp_path / 'brats'), modalities=['_flair', '_t1'], images_dir='{}')
    # the first modality's file brings its sibling along
    [r2] = inferencer(first, modalities=['_flair', '_t1'])
    for r in (r1, r2):
        assert r['case_id'] == 'P7'
        assert len(r['inputs']) == 2 and r['inputs'][1].endswith('P7_t1.nii.gz')
        np.testing.assert_array_equal(r['pred'], expected)
    with pytest.raises(ValueError, match=r"P7_flair.nii.gz.*1 channel\(s\), the model expects 2"):
        inferencer(first)
    # a manifest of tools/convert_nifti_folder.py
    from fdpl.datasets.converters import convert_nifti_folder
    convert_nifti_folder(str(tmp_path / 'brats'), str(tmp_path / 'man'), images_dir='{}',
                         labels_dir=None, modalities=('_flair', '_t1'))
    [r3] = inferencer(str(tmp_path / 'man' / 'manifest.json'))
    np.testing.assert_array_equal(r3['pred'], expected)


def test_checkpoint_alone_equals_config_and_checkpoint(tmp_path, model_files):
    src = toy.write_nifti(str(tmp_path / 'scan.nii.gz'), toy.volume_xyz(seed=7))
    with_cfg = VolSegInferencer(*model_files, device='cpu')(src)[0]['pred']
    alone = VolSegInferencer(weights=model_files[1], device='cpu')(src)[0]['pred']
    as_model = VolSegInferencer(model_files[1], device='cpu')(src)[0]['pred']
    np.testing.assert_array_equal(with_cfg, alone)
    np.testing.assert_array_equal(with_cfg, as_model)
    model = init_model(None, model_files[1])
    assert not model.training and type(model).__name__ == 'SupervisedSegmentor'
    bare = toy.save_checkpoint(toy.make_config(), str(tmp_path / 'bare.pth'), with_config=False)
    with pytest.raises(ValueError, match='carries no config'):
        VolSegInferencer(weights=bare)


def test_array_input(model_files):
    data = toy.volume_xyz(seed=8).transpose(2, 1, 0)  # (D, H, W)
    inferencer = VolSegInferencer(*model_files, device='cpu')
    [r] = inferencer([{'img': data[None], 'spacing': (2.0, 1.0, 1.0), 'case_id': 'a'}])
    np.testing.assert_array_equal(r['pred'], (data > toy.THRESHOLD).astype(np.uint8))
    assert r['foreground_ml'] == pytest.approx(r['foreground_voxels'] * 2.0 / 1000)
    [r] = inferencer(torch.from_numpy(data))
    assert r['case_id'] == 'array_0' and r['pred'].shape == data.shape


def test_infer_with_picks_the_sub_network(tmp_path):
    cfg = toy.make_config(semi=True, thresholds=(0.3, 0.7))
    ckpt = toy.save_checkpoint(cfg, str(tmp_path / 'pair.pth'))
    data = toy.volume_xyz(seed=9).transpose(2, 1, 0)[None]
    for infer_with, expected in (('net1', data[0] > 0.3), ('net2', data[0] > 0.7)):
        [r] = VolSegInferencer(weights=ckpt, device='cpu', infer_with=infer_with)(data)
        np.testing.assert_array_equal(r['pred'], expected.astype(np.uint8))
    with pytest.raises(ValueError, match='infer_with must be one of'):
        VolSegInferencer(weights=ckpt, infer_with='both')


def test_lcc_keeps_the_largest_component_and_its_classes(tmp_path):
    cfg = toy.make_config(num_classes=3)
    ckpt = toy.save_checkpoint(cfg, str(tmp_path / 'three.pth'))
    data = np.zeros((8, 16, 16), np.float32)
    data[2:6, 2:8, 2:8] = 0.6   # class 1
    data[3:5, 3:5, 3:5] = 0.9   # class 2 inside the same component
    data[2:4, 12:14, 12:14] = 0.9  # a smaller, separate blob
    [plain] = VolSegInferencer(weights=ckpt, device='cpu')(data)
    assert sorted(np.unique(plain['pred'][2:4, 12:14, 12:14])) == [2]
    [r] = VolSegInferencer(weights=ckpt, device='cpu', lcc=True)(data)
    expected = np.zeros(data.shape, np.uint8)
    expected[2:6, 2:8, 2:8] = 1
    expected[3:5, 3:5, 3:5] = 2
    np.testing.assert_array_equal(r['pred'], expected)


# --------------------------------------------------------------- bad input


def test_bad_inputs_fail_before_inference_naming_the_file(tmp_path, model_files, monkeypatch):
    inferencer = VolSegInferencer(*model_files, device='cpu')
    calls = []
    monkeypatch.setattr(inferencer.model, 'test_step', lambda *a: calls.append(a))
    good = toy.write_nifti(str(tmp_path / 'good.nii.gz'), toy.volume_xyz())
    flat = toy.write_nifti(str(tmp_path / 'flat.nii.gz'), np.zeros((8, 8), np.float32))
    nan = toy.volume_xyz()
    nan[1, 2, 3] = np.nan
    nan = toy.write_nifti(str(tmp_path / 'nan.nii.gz'), nan)
    cases = [([good, str(tmp_path / 'missing.nii.gz')], FileNotFoundError, 'missing.nii.gz'),
             ([good, flat], ValueError, r'flat.nii.gz.*shape \(8, 8\)'),
             ([good, nan], ValueError, r'nan.nii.gz.* 1 NaN/Inf'),
             ([str(tmp_path / 'toy.py')], ValueError, 'neither a NIfTI'),
             ([good, good], ValueError, 'give the case id')]
    for inputs, error, message in cases:
        with pytest.raises(error, match=message):
            inferencer(inputs)
    h5 = tmp_path / 'two.h5'
    with h5py.File(h5, 'w') as f:
        f.create_dataset('image', data=np.zeros((2, 8, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r'two.h5.*2 channel\(s\), the model expects 1'):
        inferencer([good, str(h5)])
    assert not calls


def test_existing_prediction_is_refused_unless_overwrite(tmp_path, model_files):
    src = toy.write_nifti(str(tmp_path / 'scan.nii.gz'), toy.volume_xyz())
    out = str(tmp_path / 'out')
    inferencer = VolSegInferencer(*model_files, device='cpu')
    inferencer(src, out_dir=out)
    with pytest.raises(FileExistsError, match=r'scan.nii.gz.*overwrite'):
        inferencer(src, out_dir=out)
    inferencer(src, out_dir=out, overwrite=True)


def test_checkpoint_that_does_not_fit_is_refused(tmp_path):
    ckpt = toy.save_checkpoint(toy.make_config(semi=True), str(tmp_path / 'pair.pth'))
    cfg_file = tmp_path / 'single.py'
    toy.make_config().dump(str(cfg_file))
    with pytest.raises(ValueError, match=r"pair.pth.*does not match.*'backbone.threshold'"):
        VolSegInferencer(str(cfg_file), ckpt, device='cpu')


def test_interrupted_write_leaves_no_file(tmp_path, model_files, monkeypatch):
    import fdpl.visualization.nifti as nifti_module
    src = toy.write_nifti(str(tmp_path / 'scan.nii.gz'), toy.volume_xyz())
    out = tmp_path / 'out'

    def half_write(image, path):
        with open(path, 'wb') as f:
            f.write(b'\x5c\x01\x00\x00 partial')
        raise KeyboardInterrupt

    monkeypatch.setattr(nifti_module.nib, 'save', half_write)
    with pytest.raises(KeyboardInterrupt):
        VolSegInferencer(*model_files, device='cpu')(src, out_dir=str(out))
    assert sorted(p.name for p in out.iterdir()) == ['env.json']  # no NIfTI, no temp file


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / 'kept.csv'
    target.write_text('old')

    def failing(tmp):
        with open(tmp, 'w') as f:
            f.write('new, half')
        raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        atomic_write(str(target), failing)
    assert target.read_text() == 'old'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['kept.csv']


def test_model_zoo_name(tmp_path, model_files, monkeypatch):
    import json

    import fdpl.apis.inference as inference
    from fdpl.provenance.run_record import file_sha256
    zoo = tmp_path / 'docs' / 'model_zoo'
    zoo.mkdir(parents=True)
    entry = dict(format='fdpl-model-zoo/1', name='toy_v1', file='toy.pth',
                 sha256=file_sha256(model_files[1]), config=None)
    (zoo / 'toy_v1.json').write_text(json.dumps(entry))
    monkeypatch.setattr(inference, '_ROOT', str(tmp_path))
    src = toy.write_nifti(str(tmp_path / 'scan.nii.gz'), toy.volume_xyz(seed=2))
    [r] = VolSegInferencer('toy_v1', device='cpu')(src)
    np.testing.assert_array_equal(r['pred'], _expected_xyz(toy.volume_xyz(seed=2)).T)
    with pytest.raises(FileNotFoundError, match='model-zoo name'):
        VolSegInferencer('toy_v2')
    entry['sha256'] = '0' * 64
    (zoo / 'toy_v1.json').write_text(json.dumps(entry))
    with pytest.raises(ValueError, match='another sha256'):
        VolSegInferencer('toy_v1')
