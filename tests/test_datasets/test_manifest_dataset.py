"""Tests of ManifestDataset: a manifest of NIfTI cases plus a split file."""
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from fdpl.datasets import ManifestDataset
from fdpl.datasets.converters import convert_nifti_folder
from fdpl.datasets.splits import file_sha256, make_canonical_split, write_split
from fdpl.registry import DATASETS

SHAPE = (12, 10, 8)  # (x, y, z)
#: cases 'l0'..'l5' have a label, 'u0'..'u2' do not
LABELED = [f'l{i}' for i in range(6)]
UNLABELED = ['u0', 'u1', 'u2']


@pytest.fixture(scope='module')
def folder(tmp_path_factory) -> Path:
    """A two-modality nnU-Net folder and its manifest, converted once."""
    root = tmp_path_factory.mktemp('manifest_ds')
    src = root / 'src'
    rng = np.random.default_rng(0)
    for i in LABELED + UNLABELED:
        for m in ('_0000', '_0001'):
            path = src / 'imagesTr' / f'{i}{m}.nii.gz'
            path.parent.mkdir(parents=True, exist_ok=True)
            img = rng.uniform(1, 2, SHAPE).astype(np.float32)
            nib.save(nib.Nifti1Image(img, np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
        if i in LABELED:
            lab = np.zeros(SHAPE, np.uint8)
            lab[3:6, 3:6, 2:4] = 1
            (src / 'labelsTr').mkdir(exist_ok=True)
            nib.save(nib.Nifti1Image(lab, np.diag([1.0, 1.0, 2.0, 1.0])),
                     str(src / 'labelsTr' / f'{i}.nii.gz'))
    convert_nifti_folder(str(src), str(root / 'm'), modalities=('_0000', '_0001'))
    return root


def _split(folder: Path, name='split.json', **parts) -> str:
    manifest = str(folder / 'm' / 'manifest.json')
    split = make_canonical_split(LABELED[:4], 2, num_val=1, test_ids=LABELED[4:],
                                 unlabeled_ids=UNLABELED, dataset='tiny',
                                 source=dict(manifest=manifest,
                                             manifest_sha256=file_sha256(manifest)))
    split.update(parts)
    split['labeled_num'] = len(split['labeled'])
    return write_split(str(folder / name), split)


def _ds(folder: Path, **kw) -> ManifestDataset:
    kw.setdefault('manifest_file', str(folder / 'm' / 'manifest.json'))
    kw.setdefault('serialize_data', False)
    return ManifestDataset(**kw)


def _ids(ds):
    return [ds.get_data_info(i)['case_id'] for i in range(len(ds))]


def test_subsets_of_a_split(folder):
    split = _split(folder)
    expected = dict(labeled=(['l0', 'l1'], True), unlabeled=(['l2'] + UNLABELED, False),
                    val=(['l3'], True), test=(['l4', 'l5'], True))
    for subset, (ids, flag) in expected.items():
        ds = _ds(folder, split_file=split, subset=subset)
        assert _ids(ds) == ids, subset
        assert all(ds.get_data_info(i)['labeled'] is flag for i in range(len(ds)))
        assert ds.split_file == str(Path(split).resolve())
        assert ds.manifest_file == str((folder / 'm' / 'manifest.json').resolve())
        assert ds.resolved_labeled_num == 2
    train = _ds(folder, split_file=split, subset='train')
    assert _ids(train) == ['l0', 'l1', 'l2'] + UNLABELED
    assert [train.get_data_info(i)['labeled'] for i in range(len(train))] == \
        [True, True] + [False] * 4
    assert len(_ds(folder, split_file=split, subset='all')) == 9


def test_data_infos_and_loading(folder):
    init_default_scope('fdpl')
    split = _split(folder)
    pipeline = [dict(type='LoadNiftiVolume'), dict(type='PackVolSegInputs')]
    ds = DATASETS.build(dict(type='ManifestDataset',
                             manifest_file=str(folder / 'm' / 'manifest.json'),
                             split_file=split, subset='unlabeled', pipeline=pipeline))
    info = ds.get_data_info(0)  # 'l2': unlabeled part, but it has a label file (monitoring)
    root = folder / 'src'
    assert info['img_path'] == [str(root / 'imagesTr' / 'l2_0000.nii.gz'),
                                str(root / 'imagesTr' / 'l2_0001.nii.gz')]
    assert info['seg_map_path'] == str(root / 'labelsTr' / 'l2.nii.gz')
    assert info['num_classes'] == 2 and info['labeled'] is False
    assert ds.get_data_info(1)['seg_map_path'] is None
    assert ds.num_modalities == 2
    item = ds[1]  # 'u0': no label at all
    assert tuple(item['inputs'].shape) == (2, 8, 10, 12)  # modalities stacked as channels
    assert 'gt_sem_seg' not in item['data_samples']
    lab = DATASETS.build(dict(type='ManifestDataset',
                              manifest_file=str(folder / 'm' / 'manifest.json'),
                              split_file=split, subset='labeled', pipeline=pipeline))
    item = lab[0]
    assert tuple(item['data_samples'].gt_sem_seg.data.shape) == (1, 8, 10, 12)
    assert item['data_samples'].metainfo['spacing'] == (2.0, 1.0, 1.0)


@pytest.mark.parametrize('part', ['labeled', 'val', 'test'])
def test_case_without_label_in_a_labeled_part_is_an_error(folder, part):
    parts = dict(labeled=['l0', 'l1'], unlabeled=['l2', 'u1', 'u2'], val=['l3'],
                 test=['l4', 'l5'])
    parts[part] = parts[part] + ['u0']
    split = _split(folder, name=f'bad_{part}.json', **parts)
    with pytest.raises(ValueError, match=rf"'u0' \(part '{part}'\).*no label"):
        _ds(folder, split_file=split, subset='unlabeled')


def test_split_id_missing_from_manifest(folder):
    split = _split(folder, name='unknown.json', test=['l4', 'l5', 'ghost'])
    with pytest.raises(ValueError, match=r"\['ghost'\]"):
        _ds(folder, split_file=split, subset='test')


def test_without_split_and_bad_options(folder, tmp_path):
    assert _ids(_ds(folder, subset='labeled')) == LABELED
    unl = _ds(folder, subset='unlabeled')
    assert _ids(unl) == UNLABELED and unl.resolved_labeled_num == 6 and unl.split_file is None
    assert len(_ds(folder)) == 9
    with pytest.raises(ValueError, match='split_file'):
        _ds(folder, subset='val')
    with pytest.raises(ValueError, match='subset'):
        _ds(folder, subset='validation')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        _ds(folder, manifest_file=str(tmp_path / 'nope.json'))
    with pytest.raises(FileNotFoundError, match='split_file'):
        _ds(folder, split_file=str(tmp_path / 'nope.json'))
    not_manifest = tmp_path / 'x.json'
    not_manifest.write_text(json.dumps(dict(format='something-else')))
    with pytest.raises(ValueError, match=str(not_manifest)):
        _ds(folder, manifest_file=str(not_manifest))


def test_moved_data_root_and_missing_files(folder, tmp_path):
    import shutil
    moved = tmp_path / 'moved'
    shutil.copytree(folder / 'src', moved)
    manifest = json.loads((folder / 'm' / 'manifest.json').read_text())
    manifest['root'] = str(tmp_path / 'gone')
    path = tmp_path / 'manifest.json'
    path.write_text(json.dumps(manifest))
    with pytest.raises(FileNotFoundError, match='data_root'):
        _ds(folder, manifest_file=str(path))
    ds = _ds(folder, manifest_file=str(path), data_root=str(moved), check_sha256=True)
    assert ds.get_data_info(0)['img_path'][0].startswith(str(moved))
    (moved / 'imagesTr' / 'u2_0001.nii.gz').unlink()
    with pytest.raises(FileNotFoundError, match='u2_0001'):
        _ds(folder, manifest_file=str(path), data_root=str(moved))
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.float32), np.eye(4)),
             str(moved / 'imagesTr' / 'u2_0001.nii.gz'))
    with pytest.raises(ValueError, match='sha256'):
        _ds(folder, manifest_file=str(path), data_root=str(moved), check_sha256=True)
