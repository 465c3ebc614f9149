import pytest
import torch

from fdpl.testing import demo_two_stream_batch


def test_demo_two_stream_batch_shapes_and_metainfo():
    batch = demo_two_stream_batch(2, 3, (4, 6, 8), max_shift=(1, 2, 3))
    inputs, samples = batch['inputs'], batch['data_samples']
    assert len(inputs) == len(samples) == 5
    for x, s in zip(inputs[:2], samples[:2]):
        assert x.shape == (1, 4, 6, 8) and s.labeled
        assert s.gt_sem_seg.data.shape == (1, 4, 6, 8)
        assert set(s.gt_sem_seg.data.unique().tolist()) <= {0, 1}
    for x, s in zip(inputs[2:], samples[2:]):
        assert x.shape == (1, 6, 10, 14) and not s.labeled
        assert tuple(s.fixed_origin) == (1, 2, 3) and tuple(s.fixed_size) == (4, 6, 8)
        assert s.context_mask.data.shape == (1, 6, 10, 14)
        assert s.context_mask.data.dtype == torch.uint8 and bool(s.context_mask.data.all())


def test_demo_two_stream_batch_labeled_only_and_fraction():
    torch.manual_seed(0)
    batch = demo_two_stream_batch(1, 0, (16, 16, 16), fg_fraction=0.25)
    assert len(batch['inputs']) == 1
    fraction = batch['data_samples'][0].gt_sem_seg.data.float().mean().item()
    assert fraction == pytest.approx(0.25, abs=0.03)
