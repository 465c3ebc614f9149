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
