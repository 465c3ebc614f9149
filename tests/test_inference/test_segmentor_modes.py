"""The inference modes as ``test_cfg`` selects them in a segmentor's ``predict``."""
import pytest
import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from fdpl.inference import DEFAULT_SW_BATCH_SIZE
from fdpl.registry import MODELS


@pytest.fixture(autouse=True)
def fdpl_scope():
    with DefaultScope.overwrite_default_scope('fdpl'):
        yield


def _segmentor(**test_cfg):
    torch.manual_seed(0)
    cfg = dict(type='SupervisedSegmentor',
               backbone=dict(type='VNet', in_channels=1, num_classes=2, base_channels=2),
               test_cfg=dict(dict(mode='classic', patch_size=(16, 16, 16), stride=(8, 8, 8)),
                             **test_cfg))
    model = MODELS.build(cfg).eval()
    calls = []

    def spy(module, args):
        bn = sum(isinstance(m, nn.BatchNorm3d) for m in module.modules())
        calls.append((tuple(args[0].shape), bn))

    model.backbone.register_forward_pre_hook(spy)
    return model, calls


@pytest.mark.parametrize('test_cfg,windows,batch,folded', [
    (dict(), 2 * 2 * 3, 1, False),  # classic: the field's protocol, network as it is
    (dict(mode='gaussian', stride=None), 2 * 2 * 3, DEFAULT_SW_BATCH_SIZE, True),
    (dict(mode='gaussian', stride=None, sw_batch_size=3, fast_predictor=False), 12, 3, False),
    (dict(mode='classic', sw_batch_size=5, fast_predictor=True), 12, 5, True),
    (dict(mode='whole'), 1, 1, True),
    (dict(whole=True), 1, 1, True),
])
def test_mode_windows_batches_and_layout(test_cfg, windows, batch, folded):
    model, calls = _segmentor(**test_cfg)
    x = torch.randn(1, 1, 20, 24, 31)
    with torch.no_grad():
        out = model.predict(x)[0]
    assert out.pred_sem_seg.shape == (20, 24, 31)
    assert sum(c[0][0] for c in calls) == windows
    assert max(c[0][0] for c in calls) == min(batch, windows)
    assert all((bn == 0) == folded for _, bn in calls)
    if windows == 1:
        assert calls[0][0] == (1, 1, 32, 32, 32)  # whole volume, padded to x16
    assert sum(isinstance(m, nn.BatchNorm3d) for m in model.modules()) == 29  # restored


def test_fast_layout_keeps_the_labels():
    model, _ = _segmentor(mode='gaussian', stride=None, sw_batch_size=1)
    x = torch.randn(1, 1, 20, 24, 31)
    with torch.no_grad():
        fast = model.predict(x)[0].pred_sem_seg.data
        model.test_cfg['fast_predictor'] = False
        plain = model.predict(x)[0].pred_sem_seg.data
    assert torch.equal(fast, plain)


def test_unknown_mode_is_refused():
    model, _ = _segmentor(mode='nearest')
    with pytest.raises(ValueError, match='mode must be one of'):
        model.predict(torch.randn(1, 1, 16, 16, 16))


@pytest.mark.parametrize('mode', ['gaussian', 'classic'])
def test_overlap_next_to_a_stride_is_refused(mode):
    """``stride`` places the windows whenever it is set (Gaussian weights at the classic
    windows is a mode of its own), so an ``overlap`` beside it would change nothing."""
    with pytest.raises(ValueError, match=r'test_cfg.overlap=0.25 is not used: test_cfg.stride'
                       r'=\(8, 8, 8\).*stride=None'):
        _segmentor(mode=mode, overlap=0.25)
    model, calls = _segmentor(mode=mode, overlap=0.25, stride=None)  # by overlap: accepted
    _segmentor(mode='whole', overlap=0.25)  # whole reads neither
    with torch.no_grad():
        model.predict(torch.randn(1, 1, 20, 24, 28))
    assert sum(c[0][0] for c in calls) == 2 * 2 * 2  # overlap 0.5 would take 2 * 2 * 3
