import json

import matplotlib.image as mpimg
import nibabel as nib
import numpy as np
import pytest
import torch

from fdpl.visualization import plot_training_curves, save_overlays, save_prediction_nifti


def _volume():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(12, 20, 24)).astype(np.float32)
    gt = np.zeros((12, 20, 24), dtype=np.uint8)
    gt[3:9, 5:15, 6:18] = 1
    pred = np.zeros_like(gt)
    pred[4:9, 6:15, 6:16] = 1
    return image, pred, gt


def test_save_overlays_writes_png(tmp_path):
    image, pred, gt = _volume()
    out = save_overlays(image, pred, gt, tmp_path / 'sub' / 'case.png', num_slices=3)
    png = mpimg.imread(out)
    assert png.ndim == 3 and png.shape[1] > png.shape[0]  # three panels side by side
    out = save_overlays(torch.from_numpy(image), torch.from_numpy(pred), None,
                        tmp_path / 'no_gt.png', num_slices=20)  # more than D: clipped
    assert (tmp_path / 'no_gt.png').stat().st_size > 0
    with pytest.raises(ValueError, match='pred shape'):
        save_overlays(image, pred[:5], gt, tmp_path / 'bad.png')


def test_plot_training_curves(tmp_path):
    path = tmp_path / 'scalars.json'
    lines = []
    for it in range(1, 21):
        lines.append(dict(lr=0.01, loss=1 / it, loss_sup_1=0.5 / it, time=0.1, iter=it, step=it))
        if it % 10 == 0:
            lines.append(dict(dice=50 + it, dice_lcc=51 + it, data_time=0.01, step=it))
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    out = plot_training_curves(path, tmp_path / 'curves.png')
    assert mpimg.imread(out).ndim == 3

    only_loss = tmp_path / 'loss_only.json'
    only_loss.write_text(json.dumps(dict(loss=1.0, iter=1, step=1)) + '\n')
    out = plot_training_curves(only_loss, tmp_path / 'x' / 'c.png')
    assert out.endswith('c.png') and (tmp_path / 'x' / 'c.png').is_file()
    with pytest.raises(FileNotFoundError):
        plot_training_curves(tmp_path / 'missing.json', tmp_path / 'c.png')
    broken = tmp_path / 'broken.json'
    broken.write_text('{"loss": 1, "step": 1}\n{not json\n')
    with pytest.raises(ValueError, match='line 2'):
        plot_training_curves(broken, tmp_path / 'c.png')


def test_nifti_round_trip_keeps_affine_and_orientation(tmp_path):
    # A source image stored (x, y, z) with a non-trivial, oblique-free affine.
    affine = np.array([[-0.8, 0., 0., 10.], [0., 0.9, 0., -20.], [0., 0., 2.5, 30.],
                       [0., 0., 0., 1.]])
    source_xyz = np.zeros((24, 20, 12), dtype=np.float32)
    source_xyz[2:9, 4:6, 1:3] = 1.  # asymmetric blob
    src_path = tmp_path / 'image.nii.gz'
    nib.save(nib.Nifti1Image(source_xyz, affine), str(src_path))

    # fdpl loads as (z, y, x) = (D, H, W) and keeps the affine.
    src = nib.load(str(src_path))
    volume = np.asarray(src.dataobj).transpose(2, 1, 0)
    pred = (volume > 0.5).astype(np.int64) * 2
    out = save_prediction_nifti(torch.from_numpy(pred), src.affine, tmp_path / 'pred' / 'p.nii.gz')

    saved = nib.load(out)
    data = np.asarray(saved.dataobj)
    assert data.dtype == np.uint8 and data.shape == source_xyz.shape
    assert np.array_equal(data, (source_xyz > 0.5).astype(np.uint8) * 2)
    assert np.allclose(saved.affine, affine)
    assert nib.aff2axcodes(saved.affine) == nib.aff2axcodes(affine)
    assert np.array_equal(data.transpose(2, 1, 0), pred)

    with pytest.raises(ValueError, match='255'):
        save_prediction_nifti(pred * 200, affine, tmp_path / 'bad.nii.gz')
    with pytest.raises(ValueError, match='affine'):
        save_prediction_nifti(pred, np.eye(3), tmp_path / 'bad.nii.gz')
