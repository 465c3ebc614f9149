"""Registries: scope, lazy locations, clear errors, mmseg reachable with mmcv-lite."""
import pytest
from mmengine.registry import DefaultScope, init_default_scope

from fdpl.registry import (DATASETS, HOOKS, METRICS, MODELS, PSEUDO_LABELERS, TRANSFORMS)


@pytest.fixture(autouse=True)
def fdpl_scope():
    init_default_scope('fdpl')
    yield


@pytest.mark.parametrize('registry,name', [
    (MODELS, 'VNet'), (MODELS, 'UNet3D'), (MODELS, 'SemiSupervisedSegmentor'),
    (MODELS, 'SupervisedSegmentor'), (MODELS, 'CEDiceLoss'), (MODELS, 'VolSegDataPreprocessor'),
    (DATASETS, 'LADataset'), (DATASETS, 'SyntheticLADataset'), (DATASETS, 'NiftiSegDataset'),
    (TRANSFORMS, 'ContextCrop3D'), (TRANSFORMS, 'LoadH5Volume'), (HOOKS, 'PseudoLabelHook'),
    (METRICS, 'VolumeMetric'), (PSEUDO_LABELERS, 'FixedPseudoLabel'),
    (PSEUDO_LABELERS, 'DynamicPseudoLabel'), (PSEUDO_LABELERS, 'CutMix')
])
def test_components_found_by_lazy_location(registry, name):
    assert registry.scope == 'fdpl'
    assert registry.get(name) is not None


def test_children_of_mmengine_roots():
    from mmengine.registry import MODELS as ROOT_MODELS
    assert MODELS.parent is ROOT_MODELS
    assert PSEUDO_LABELERS.parent is None


def test_misspelled_type_is_a_clear_key_error():
    with pytest.raises(KeyError, match='VNett'):
        MODELS.build(dict(type='VNett'))
    with pytest.raises(KeyError, match='DynamicPseudoLable'):
        PSEUDO_LABELERS.build(dict(type='DynamicPseudoLable'))


def test_mmseg_components_by_scope_with_mmcv_lite():
    pytest.importorskip('mmseg')
    metric = METRICS.build(dict(type='mmseg.IoUMetric'))
    assert type(metric).__name__ == 'IoUMetric'
    assert DefaultScope.get_current_instance().scope_name == 'fdpl'


def test_fdpl_needs_no_mmseg(tmp_path):
    """mmseg is optional: not a runtime requirement, and fdpl imports and builds without it."""
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    runtime = (repo / 'requirements' / 'runtime.txt').read_text()
    assert 'mmsegmentation' not in runtime.split('#')[0] and 'mmseg' not in [
        line.split('#')[0].strip().split('[')[0] for line in runtime.splitlines()]
    assert 'mmsegmentation' in (repo / 'requirements' / 'optional.txt').read_text()
    code = ("import sys; sys.modules['mmseg'] = None\n"  # any `import mmseg` now fails
            "import fdpl, fdpl.models, fdpl.datasets, fdpl.evaluation, fdpl.engine\n"
            "from mmengine.registry import init_default_scope\n"
            "from fdpl.registry import METRICS, MODELS\n"
            "init_default_scope('fdpl')\n"
            "MODELS.build(dict(type='SemiSupervisedSegmentor', backbone=dict(type='VNet')))\n"
            "METRICS.build(dict(type='VolumeMetric'))\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, '-c', code], cwd=repo, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1] == 'ok', proc.stderr[-3000:]
