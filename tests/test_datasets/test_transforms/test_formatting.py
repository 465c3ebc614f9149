"""Tests of PackVolSegInputs."""
import pickle

import numpy as np
import torch

from fdpl.datasets.transforms import ContextCrop3D, PackVolSegInputs
from fdpl.structures import VolSegDataSample


def _results():
    shape = (6, 7, 8)
    return dict(
        img=np.random.rand(1, *shape).astype(np.float64),
        gt_seg_map=np.random.randint(0, 2, shape).astype(np.uint8),
        case_id='c1',
        img_path='/x/c1.h5',
        spacing=(np.float64(1.0), 2.0, 3.0),
        affine=np.eye(4),
        ori_shape=shape,
        transforms=[{
            'type': 'flip',
            'axis': np.int64(2)
        }],
        labeled=True,
        other='not packed')


def test_pack_types():
    out = PackVolSegInputs()(_results())
    inputs, sample = out['inputs'], out['data_samples']
    assert isinstance(inputs, torch.Tensor) and inputs.dtype == torch.float32
    assert inputs.shape == (1, 6, 7, 8) and inputs.is_contiguous()
    assert isinstance(sample, VolSegDataSample)
    gt = sample.gt_sem_seg.data
    assert gt.dtype == torch.int64 and gt.shape == (1, 6, 7, 8)
    assert sample.affine == np.eye(4).tolist() and isinstance(sample.affine, list)
    assert sample.spacing == (1.0, 2.0, 3.0) and type(sample.spacing[0]) is float
    assert sample.transforms == [{'type': 'flip', 'axis': 2}]
    assert type(sample.transforms[0]['axis']) is int
    assert sample.case_id == 'c1' and sample.labeled is True and sample.ori_shape == (6, 7, 8)
    assert 'other' not in sample.metainfo and 'fixed_origin' not in sample.metainfo
    pickle.loads(pickle.dumps(out))


def test_pack_context_region_without_label():
    r = _results()
    del r['gt_seg_map']
    r['labeled'] = False
    np.random.seed(0)
    r = ContextCrop3D((4, 4, 4), (0, 1, 2))(r)
    out = PackVolSegInputs(meta_keys=('case_id', 'fixed_origin', 'fixed_size', 'max_shift'))(r)
    sample = out['data_samples']
    assert out['inputs'].shape == (1, 4, 6, 8)
    assert 'gt_sem_seg' not in sample
    mask = sample.context_mask.data
    assert mask.dtype == torch.uint8 and mask.shape == (1, 4, 6, 8)
    assert sample.fixed_origin == (0, 1, 2) and sample.fixed_size == (4, 4, 4)
    assert set(sample.metainfo) == {'case_id', 'fixed_origin', 'fixed_size', 'max_shift'}
