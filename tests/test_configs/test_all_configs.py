"""Every config under ``configs/`` parses, passes the checks and builds.

Also checks the benchmark settings of the leaf configs, the edits of the
ablation configs (and that they apply unchanged on top of the CPU config
``configs/fdpl/vnet_synthetic.py``), the parameter counts of PROTOCOL.md 3,
and that the Pancreas / BraTS dataset configs find their files in the
documented layout (built on empty-ish stand-in volumes in a temporary folder).
"""
import copy
from pathlib import Path
from typing import Any, Dict, List, Tuple

import h5py
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from fdpl.registry import DATASETS, HOOKS, MODELS
from fdpl.utils import check_config

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs'
ABLATION_DIR = CONFIG_DIR / 'fdpl' / 'ablations'
CPU_CONFIG = CONFIG_DIR / 'fdpl' / 'vnet_synthetic.py'
LA_BASE_LINE = "_base_ = ['../vnet_la_10pct.py']"

CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py')
                 if '_base_' not in p.relative_to(CONFIG_DIR).parts)
ABLATIONS = sorted(ABLATION_DIR.glob('*.py'))

#: Parameters of one V-Net of the field and of one SSL4MIS 3D U-Net (PROTOCOL.md 3).
VNET_PARAMS = 9_448_866
UNET3D_PARAMS = 5_884_050


def _rel(path: Path) -> str:
    return str(path.relative_to(CONFIG_DIR))


def _hook(cfg: Config) -> dict:
    hooks = [h for h in cfg.get('custom_hooks', []) if h['type'] == 'PseudoLabelHook']
    assert len(hooks) == 1, f'expected one PseudoLabelHook in custom_hooks, got {len(hooks)}'
    return hooks[0]


def _semi(cfg: Config) -> dict:
    """The method's settings: ``model.semi_train_cfg``."""
    return cfg.model.semi_train_cfg


def _get(cfg: Config, dotted: str) -> Any:
    """``'a.b.0.c'`` lookup; ``semi`` is ``model.semi_train_cfg`` and a final ``keys``
    gives the sorted keys of a dict whose value is not None."""
    parts = dotted.split('.')
    obj: Any = _semi(cfg) if parts[0] == 'semi' else cfg[parts[0]]
    for part in parts[1:]:
        if part == 'keys':
            return sorted(k for k, v in obj.items() if v is not None)
        obj = obj[int(part)] if isinstance(obj, (list, tuple)) else obj[part]
    return obj


def _trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.fixture(scope='module', autouse=True)
def _fdpl_scope():
    init_default_scope('fdpl')


def test_configs_are_found():
    names = {_rel(p) for p in CONFIGS}
    expected = {
        'fdpl/vnet_la_10pct.py', 'fdpl/vnet_pancreas_10pct.py', 'fdpl/vnet_pancreas_20pct.py',
        'fdpl/unet3d_brats2019_10pct.py', 'fdpl/unet3d_brats2019_20pct.py',
        'supervised/vnet_pancreas_10pct.py', 'supervised/vnet_pancreas_20pct.py',
        'supervised/unet3d_brats2019_10pct.py', 'supervised/unet3d_brats2019_20pct.py'
    }
    assert expected <= names
    assert len(ABLATIONS) >= 14


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_parses_checks_and_builds(path: Path):
    cfg = Config.fromfile(str(path))
    check_config(cfg)
    model = MODELS.build(copy.deepcopy(cfg.model))
    assert _trainable(model) > 0
    for hook_cfg in cfg.get('custom_hooks', []):
        HOOKS.build(copy.deepcopy(hook_cfg))
    assert 'pseudo_label_hook' not in cfg  # stale: check_config refuses it
    if cfg.model.type == 'SemiSupervisedSegmentor':
        # the hook takes no method option: they all live in model.semi_train_cfg
        assert _hook(cfg) == dict(type='PseudoLabelHook')
        hook = HOOKS.build(copy.deepcopy(_hook(cfg)))
        hook.configure(model)
        assert set(hook.strategies) <= set(model.semi_train_cfg.strategies)


@pytest.mark.parametrize('rel, per_net', [
    ('fdpl/vnet_la_10pct.py', VNET_PARAMS),
    ('fdpl/unet3d_brats2019_10pct.py', UNET3D_PARAMS),
])
def test_sub_network_parameter_counts(rel: str, per_net: int):
    model = MODELS.build(Config.fromfile(str(CONFIG_DIR / rel)).model)
    assert [_trainable(n) for n in model.nets] == [per_net, per_net]
    assert _trainable(model) == 2 * per_net


SETTINGS: Dict[str, List[Tuple[str, Any]]] = {
    'fdpl/vnet_pancreas_10pct.py': [
        ('train_dataloader.dataset.datasets.0.labeled_num', 6),
        ('train_dataloader.dataset.datasets.1.labeled_num', 6),
        ('train_dataloader.dataset.datasets.0.num_val', 12),
        ('train_dataloader.dataset.datasets.0.path_template', 'Pancreas_h5/{}_norm.h5'),
        ('semi.schedule.weight_max', 0.3), ('semi.noise', 0.05), ('model.backbone.type', 'VNet'),
        ('model.test_cfg.patch_size', (96, 96, 96)), ('model.test_cfg.stride', (16, 16, 16)),
        ('train_cfg.max_iters', 10000), ('optim_wrapper.optimizer.lr', 0.01),
    ],
    'fdpl/vnet_pancreas_20pct.py': [
        ('train_dataloader.dataset.datasets.0.labeled_num', 12),
        ('train_dataloader.dataset.datasets.1.labeled_num', 12),
        ('semi.schedule.weight_max', 1.0), ('semi.noise', 0.05), ('train_cfg.max_iters', 10000),
    ],
    'fdpl/unet3d_brats2019_10pct.py': [
        ('train_dataloader.dataset.datasets.0.labeled_num', 25),
        ('train_dataloader.dataset.datasets.1.labeled_num', 25),
        ('train_dataloader.dataset.datasets.0.ann_file', 'train.txt'),
        ('train_dataloader.dataset.datasets.0.path_template', 'data/{}.h5'),
        ('val_dataloader.dataset.ann_file', 'val.txt'),
        ('test_dataloader.dataset.ann_file', 'test.txt'),
        ('semi.schedule.weight_max', 0.3), ('semi.noise', 0.05),
        ('model.backbone.type', 'UNet3D'),
        ('model.test_cfg.patch_size', (96, 96, 96)), ('train_cfg.max_iters', 30000),
    ],
    'fdpl/unet3d_brats2019_20pct.py': [
        ('train_dataloader.dataset.datasets.0.labeled_num', 50),
        ('train_dataloader.dataset.datasets.1.labeled_num', 50),
        ('semi.schedule.weight_max', 1.0), ('semi.noise', 0.05),
    ],
    'supervised/vnet_pancreas_10pct.py': [
        ('train_dataloader.dataset.labeled_num', 6), ('train_dataloader.batch_size', 4),
        ('model.type', 'SupervisedSegmentor'), ('model.test_cfg.stride', (16, 16, 16)),
        ('train_cfg.max_iters', 10000),
    ],
    'supervised/vnet_pancreas_20pct.py': [('train_dataloader.dataset.labeled_num', 12)],
    'supervised/unet3d_brats2019_10pct.py': [
        ('train_dataloader.dataset.labeled_num', 25), ('model.backbone.type', 'UNet3D'),
        ('train_cfg.max_iters', 30000),
    ],
    'supervised/unet3d_brats2019_20pct.py': [('train_dataloader.dataset.labeled_num', 50)],
}


@pytest.mark.parametrize('rel', sorted(SETTINGS))
def test_benchmark_settings(rel: str):
    cfg = Config.fromfile(str(CONFIG_DIR / rel))
    for dotted, value in SETTINGS[rel]:
        assert _get(cfg, dotted) == value, dotted


def test_augmentation_per_benchmark():
    def types(cfg, pipeline):
        return [t['type'] for t in cfg[pipeline]]

    pancreas = Config.fromfile(str(CONFIG_DIR / '_base_/datasets/pancreas.py'))
    brats = Config.fromfile(str(CONFIG_DIR / '_base_/datasets/brats2019.py'))
    assert types(pancreas, 'train_pipeline') == ['LoadH5Volume', 'RandomCrop3D',
                                                 'PackVolSegInputs']
    assert types(brats, 'train_pipeline') == ['LoadH5Volume', 'RandomRotFlip3D', 'RandomCrop3D',
                                              'PackVolSegInputs']
    for cfg in (pancreas, brats):
        assert cfg.unlabeled_pipeline[-2] == dict(type='ContextCrop3D', crop_size=(96, 96, 96),
                                                  max_shift=(0, 24, 24))


#: The edit each ablation makes (checked on model.semi_train_cfg, the settings that run).
ABLATION_EDITS: Dict[str, List[Tuple[str, Any]]] = {
    'la_10pct_fixed_only.py': [('semi.strategies.keys', ['fix'])],
    'la_10pct_dynamic_only.py': [('semi.strategies.keys', ['dyn'])],
    'la_10pct_no_cut.py': [('semi.cut', None), ('semi.cut_students', ())],
    'la_10pct_com_union.py': [('semi.strategies.dyn.region', 'union')],
    'la_10pct_fusion_vote.py': [('semi.strategies.dyn.fusion', 'vote')],
    'la_10pct_one_shift.py': [('semi.strategies.dyn.num_crops', 1)],
    'la_10pct_axis_shifts.py': [('semi.strategies.dyn.directions', 'axis')],
    'la_10pct_teacher_eval.py': [('semi.teacher_mode', 'eval')],
    'la_10pct_warmup1000.py': [('semi.schedule.warmup_iters', 1000)],
    'la_10pct_conf0.65.py': [('semi.confidence_threshold', 0.65)],
    'la_10pct_shift_pad.py': [('semi.shift.pad', True)],
    'la_10pct_weights_0.5.py': [('semi.unsup_weights.fix', 0.5), ('semi.unsup_weights.dyn', 0.5)],
    'la_10pct_ce_unsup.py': [('model.loss_unsup.alpha', 1.0)],
}
ABLATION_EDITS.update({
    f'la_10pct_alpha_{a}.py': [('model.loss_sup.alpha', a), ('model.loss_unsup.alpha', a)]
    for a in (0.1, 0.3, 0.7, 0.9)
})


def test_every_ablation_has_expectations():
    assert sorted(p.name for p in ABLATIONS) == sorted(ABLATION_EDITS)


def _flat(obj: Any, prefix: str = '') -> Dict[str, Any]:
    """``{'a.b': value}`` of a nested dict (a None or non-dict value is a leaf)."""
    if not isinstance(obj, dict) or not obj:
        return {prefix: obj}
    out: Dict[str, Any] = {}
    for key, value in obj.items():
        out.update(_flat(value, f'{prefix}.{key}' if prefix else str(key)))
    return out


def _check_ablation(cfg: Config, name: str, base: Config) -> None:
    for dotted, value in ABLATION_EDITS[name]:
        assert _get(cfg, dotted) == value, dotted
    # only the named edit differs from the base: the rest of the model is inherited
    edits = [d.replace('semi.', 'semi_train_cfg.', 1) for d, _ in ABLATION_EDITS[name]]
    edits = [d[len('model.'):] if d.startswith('model.') else d for d in edits]
    edits = [d[:-len('.keys')] if d.endswith('.keys') else d for d in edits]
    ours, theirs = _flat(cfg.model.to_dict()), _flat(base.model.to_dict())
    for key in set(ours) | set(theirs):
        if not any(key == e or key.startswith(e + '.') for e in edits):
            assert ours.get(key) == theirs.get(key), key
    assert cfg.custom_hooks == base.custom_hooks


@pytest.mark.parametrize('path', ABLATIONS, ids=lambda p: p.name)
def test_ablation_edits(path: Path):
    base = Config.fromfile(str(CONFIG_DIR / 'fdpl' / 'vnet_la_10pct.py'))
    _check_ablation(Config.fromfile(str(path)), path.name, base)


@pytest.mark.parametrize('path', ABLATIONS, ids=lambda p: p.name)
def test_ablation_applies_on_cpu_config(path: Path, tmp_path: Path):
    """Swapping the `_base_` line runs the same ablation on the synthetic CPU config."""
    text = path.read_text(encoding='utf-8')
    assert text.count(LA_BASE_LINE) == 1
    rebased = tmp_path / path.name
    rebased.write_text(text.replace(LA_BASE_LINE, f'_base_ = [{str(CPU_CONFIG)!r}]'),
                       encoding='utf-8')
    cfg = Config.fromfile(str(rebased))
    base = Config.fromfile(str(CPU_CONFIG))
    check_config(cfg)
    _check_ablation(cfg, path.name, base)
    assert _semi(cfg).schedule.rampup_iters == _semi(base).schedule.rampup_iters == 240
    assert cfg.model.backbone.base_channels == 8
    assert _hook(cfg) == dict(type='PseudoLabelHook')
    MODELS.build(copy.deepcopy(cfg.model))


# ---------------------------------------------------------------- data layout
def _write_h5(path: Path, shape=(40, 36, 30)) -> None:
    """A small stand-in case, stored (W, H, D) like the benchmark files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=np.zeros(shape, np.float32))
        f.create_dataset('label', data=np.zeros(shape, np.uint8))


def _make_layout(root: Path, lists: Dict[str, List[str]], template: str) -> None:
    for list_name, ids in lists.items():
        (root / list_name).parent.mkdir(parents=True, exist_ok=True)
        (root / list_name).write_text(''.join(f'{i}\n' for i in ids))
        for i in ids:
            _write_h5(root / template.format(i))


def _build(cfg_dataset: dict):
    cfg_dataset = copy.deepcopy(cfg_dataset)
    cfg_dataset.setdefault('serialize_data', False)
    return DATASETS.build(cfg_dataset)


@pytest.mark.parametrize('rel, folder, lists, template, sizes', [
    ('fdpl/vnet_pancreas_10pct.py', 'Pancreas',
     {'train.list': [f'image{i:04d}' for i in range(1, 63)],
      'test.list': [f'image{i:04d}' for i in range(63, 83)]},
     'Pancreas_h5/{}_norm.h5', (6, 44, 12, 20)),
    ('fdpl/unet3d_brats2019_20pct.py', 'BraTS2019',
     {'train.txt': [f'BraTS19_T_{i}_1' for i in range(250)],
      'val.txt': [f'BraTS19_V_{i}_1' for i in range(25)],
      'test.txt': [f'BraTS19_E_{i}_1' for i in range(60)]},
     'data/{}.h5', (50, 200, 25, 60)),
])
def test_dataset_layout(rel, folder, lists, template, sizes, tmp_path, monkeypatch):
    _make_layout(tmp_path / folder, lists, template)
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(str(CONFIG_DIR / rel))
    labeled, unlabeled = (_build(d) for d in cfg.train_dataloader.dataset.datasets)
    val, test = _build(cfg.val_dataloader.dataset), _build(cfg.test_dataloader.dataset)
    assert (len(labeled), len(unlabeled), len(val), len(test)) == sizes
    train_ids = next(ids for name, ids in lists.items() if name.startswith('train'))
    assert [labeled[i]['data_samples'].case_id for i in range(2)] == train_ids[:2]
    # a labeled crop, and an unlabeled context region widened by max_shift in-plane
    assert tuple(labeled[0]['inputs'].shape) == (1, 96, 96, 96)
    item = unlabeled[0]
    assert tuple(item['inputs'].shape) == (1, 96, 144, 144)
    assert item['data_samples'].metainfo['labeled'] is False
    assert tuple(test[0]['inputs'].shape) == (1, 30, 36, 40)  # (D, H, W) of a (W, H, D) file


def _train_noise(cfg: Config) -> float:
    """Training-input noise of a config's model: ``model.noise`` or, for a two-network model,
    ``model.semi_train_cfg.noise`` when it has one."""
    semi = cfg.model.get('semi_train_cfg') or {}
    return float(semi.get('noise', cfg.model.get('noise', 0.0)))


SUPERVISED_TWINS = sorted(p for p in CONFIGS if p.relative_to(CONFIG_DIR).parts[0] == 'supervised'
                          and (CONFIG_DIR / 'fdpl' / p.relative_to(CONFIG_DIR / 'supervised'))
                          .is_file())


def test_supervised_twins_found():
    assert len(SUPERVISED_TWINS) >= 8


@pytest.mark.parametrize('path', SUPERVISED_TWINS, ids=_rel)
def test_supervised_baseline_gets_the_noise_of_its_fdpl_twin(path: Path):
    """A fair comparison: the baseline's training inputs get FDPL's perturbation (or, as on
    the CPU testbed, neither gets any)."""
    twin = CONFIG_DIR / 'fdpl' / path.relative_to(CONFIG_DIR / 'supervised')
    sup, fdpl = Config.fromfile(str(path)), Config.fromfile(str(twin))
    assert sup.model.type == 'SupervisedSegmentor'
    assert _train_noise(sup) == _train_noise(fdpl) >= 0
    assert MODELS.build(copy.deepcopy(sup.model)).noise == _train_noise(fdpl)


FULL_SUPERVISION = sorted(p for p in CONFIGS if p.relative_to(CONFIG_DIR).parts[0] == 'supervised'
                          and p.stem.endswith('_full'))


def _fdpl_twin_of_full(path: Path) -> Path:
    """``supervised/.../X_full.py`` -> ``fdpl/.../X_10pct.py`` or ``fdpl/.../X.py``."""
    folder = CONFIG_DIR / 'fdpl' / path.parent.relative_to(CONFIG_DIR / 'supervised')
    stem = path.stem[:-len('_full')]
    for name in (stem + '_10pct.py', stem + '.py'):
        if (folder / name).is_file():
            return folder / name
    raise AssertionError(f'{_rel(path)}: no FDPL config {stem}_10pct.py or {stem}.py in {folder}')


def test_full_supervision_rows_found():
    assert {p.name for p in FULL_SUPERVISION} >= {'vnet16_la_half_full.py',
                                                  'vnet_synthetic_full.py'}


@pytest.mark.parametrize('path', FULL_SUPERVISION, ids=_rel)
def test_full_supervision_row_gets_the_noise_of_its_fdpl_twin(path: Path):
    """The full-supervision row of a table is trained like the two arms it bounds."""
    full = Config.fromfile(str(path))
    fdpl = Config.fromfile(str(_fdpl_twin_of_full(path)))
    assert full.model.type == 'SupervisedSegmentor'
    assert _train_noise(full) == _train_noise(fdpl)


@pytest.mark.parametrize('base, pair', [('vnet.py', 'vnet_pair.py'),
                                        ('unet3d.py', 'unet3d_pair.py')])
def test_model_bases_agree_on_noise(base: str, pair: str):
    models = CONFIG_DIR / '_base_' / 'models'
    assert _train_noise(Config.fromfile(str(models / base))) == \
        _train_noise(Config.fromfile(str(models / pair)))
