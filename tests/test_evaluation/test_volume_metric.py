import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from fdpl.evaluation import VolumeMetric, format_table, write_metrics
from fdpl.registry import METRICS

SHAPE = (16, 16, 16)


def _cube(origin, side=4, value=1):
    mask = torch.zeros(SHAPE, dtype=torch.int64)
    d, h, w = origin
    mask[d:d + side, h:h + side, w:w + side] = value
    return mask


def _sample(pred, gt, case_id, spacing=(1.0, 1.0, 1.0)):
    # The form the mmengine Evaluator hands over: VolSegDataSample.to_dict().
    return dict(
        case_id=case_id,
        spacing=spacing,
        pred_sem_seg=dict(data=pred[None]),
        gt_sem_seg=dict(data=gt[None]))


def _evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def test_registered_and_buildable():
    metric = METRICS.build(dict(type='VolumeMetric', classes=(1, ), lcc='both'))
    assert isinstance(metric, VolumeMetric) and metric.lcc == 'both'


def test_through_mmengine_evaluator():
    with DefaultScope.overwrite_default_scope('fdpl'):
        evaluator = Evaluator(dict(type='VolumeMetric', prefix='val'))
    gt = _cube((2, 2, 2))
    evaluator.process([_sample(gt.clone(), gt, 'a')])
    out = evaluator.evaluate(1)
    assert out['val/dice'] == pytest.approx(100.0) and out['val/num_cases'] == 1


def test_mean_over_cases_in_percent_and_per_case_rows():
    gt = _cube((2, 2, 2))
    samples = [
        _sample(_cube((2, 2, 2)), gt, 'perfect'),
        _sample(_cube((4, 2, 2)), gt, 'half'),  # Dice 0.5
    ]
    metric = VolumeMetric()
    out = _evaluate(metric, samples)
    assert out['dice'] == pytest.approx(75.0)
    assert out['dice_std'] == pytest.approx(25.0)
    assert out['jaccard'] == pytest.approx((100 + 100 / 3) / 2)
    assert out['num_cases'] == 2 and out['num_empty_pred'] == 0
    assert {'hd95', 'asd', 'hd95_std', 'asd_std', 'jaccard_std'} <= set(out)
    rows = metric.per_case
    assert [r['case_id'] for r in rows] == ['perfect', 'half']
    assert rows[1]['dice'] == pytest.approx(50.0) and rows[1]['class'] == 1
    assert set(rows[0]) >= {'case_id', 'class', 'dice', 'jaccard', 'hd95', 'asd', 'empty_pred'}
    assert metric.summary['dice'] == dict(mean=out['dice'], std=out['dice_std'])
    assert metric.results == []  # evaluate() clears the buffer, rows are kept


def test_empty_prediction_rule_is_counted():
    gt = _cube((2, 2, 2))
    out = _evaluate(VolumeMetric(), [
        _sample(torch.zeros(SHAPE, dtype=torch.int64), gt, 'empty'),
        _sample(gt.clone(), gt, 'ok'),
    ])
    assert out['num_empty_pred'] == 1
    assert out['dice'] == pytest.approx(50.0)
    assert out['hd95'] == 0 and out['asd'] == 0


def test_shape_mismatch_names_the_case():
    metric = VolumeMetric()
    bad = _sample(_cube((2, 2, 2)), _cube((2, 2, 2)), 'case_A')
    bad['gt_sem_seg']['data'] = torch.zeros(1, 16, 16, 15, dtype=torch.int64)
    with pytest.raises(ValueError, match='case_A'):
        metric.process(None, [bad])


def test_multi_class_keys_and_lcc_both():
    gt = _cube((2, 2, 2)) + _cube((9, 9, 9), value=2)
    pred = gt.clone()
    pred[15, 15, 0] = 1  # stray class-1 voxel, far from the cube
    metric = VolumeMetric(classes=(1, 2), lcc='both')
    out = _evaluate(metric, [_sample(pred, gt, 'c0')])
    assert out['dice_cls2'] == pytest.approx(100.0)
    assert out['dice_cls1'] == pytest.approx(100 * 2 * 64 / 129)
    assert out['dice_lcc_cls1'] == pytest.approx(100.0)
    assert out['asd_lcc_cls1'] == 0 and out['asd_cls1'] > 0
    assert 'dice' not in out and 'dice_lcc_cls1_std' in out
    assert len(metric.per_case) == 4
    assert {r['postprocess'] for r in metric.per_case} == {'none', 'lcc'}


def test_spacing_mode_mm():
    gt, pred = _cube((2, 2, 2)), _cube((5, 2, 2))
    vox = _evaluate(VolumeMetric(), [_sample(pred, gt, 'a', spacing=(2., 2., 2.))])
    mm = _evaluate(VolumeMetric(spacing_mode='mm'), [_sample(pred, gt, 'a', spacing=(2., 2., 2.))])
    assert mm['hd95'] == pytest.approx(2 * vox['hd95'])
    sample = _sample(pred, gt, 'no_spacing')
    del sample['spacing']
    with pytest.raises(KeyError, match='no_spacing'):
        VolumeMetric(spacing_mode='mm').process(None, [sample])


def test_bad_options():
    with pytest.raises(ValueError, match='spacing_mode'):
        VolumeMetric(spacing_mode='cm')
    with pytest.raises(ValueError, match='lcc'):
        VolumeMetric(lcc='yes')
    with pytest.raises(ValueError, match='classes'):
        VolumeMetric(classes=())


def test_write_metrics_and_table(tmp_path):
    gt = _cube((2, 2, 2))
    metric = VolumeMetric(lcc='both')
    flat = _evaluate(metric, [
        _sample(_cube((3, 2, 2)), gt, 'a'),
        _sample(torch.zeros(SHAPE, dtype=torch.int64), torch.zeros(SHAPE, dtype=torch.int64), 'b'),
    ])
    json_path, csv_path = write_metrics(tmp_path / 'eval', metric.summary, metric.per_case)
    data = json.loads(Path(json_path).read_text())
    for name in ('dice', 'jaccard', 'hd95', 'asd'):
        assert set(data['summary'][name]) == {'mean', 'std'}
    assert data['summary']['dice']['mean'] == pytest.approx(flat['dice'])
    assert len(data['per_case']) == 4
    with open(csv_path, newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and rows[0]['case_id'] == 'a'

    # The flat dict returned to the evaluator (with a prefix) gives the same summary.
    prefixed = {f'val/{k}': v for k, v in flat.items()}
    json_2, _ = write_metrics(tmp_path / 'flat', prefixed, metric.per_case)
    assert json.loads(Path(json_2).read_text())['summary'] == data['summary']

    table = format_table(metric.summary)
    assert 'Dice' in table and '95HD' in table and 'lcc' in table and '+-' in table
    assert f"{flat['dice']:.2f}" in table


def test_nan_is_written_as_null(tmp_path):
    summary = {'dice': {'mean': 0.0, 'std': 0.0}, 'hd95': {'mean': math.nan, 'std': math.nan}}
    rows = [dict(case_id='x', dice=0.0, hd95=float('nan'), empty_pred=False)]
    json_path, _ = write_metrics(tmp_path, summary, rows)
    data = json.loads(Path(json_path).read_text())
    assert data['summary']['hd95']['mean'] is None and data['per_case'][0]['hd95'] is None
    assert 'n/a' in format_table(summary)
    with open(tmp_path / 'per_case.csv', newline='') as f:
        assert np.isnan(float(next(csv.DictReader(f))['hd95']))


# ------------------------------------------------ several predictors (SN1, SN2, mean)


def test_pred_key_scores_another_field():
    gt = _cube((2, 2, 2))
    sample = _sample(torch.zeros(SHAPE, dtype=torch.int64), gt, 'a')
    sample['pred_sem_seg_net2'] = dict(data=gt.clone()[None])
    assert _evaluate(VolumeMetric(), [dict(sample)])['dice'] == 0.0
    assert _evaluate(VolumeMetric(pred_key='pred_sem_seg_net2'), [sample])['dice'] == 100.0
    with pytest.raises(KeyError, match='pred_sem_seg_mean'):
        _evaluate(VolumeMetric(pred_key='pred_sem_seg_mean'), [sample])


def _predictor_results():
    gt = _cube((2, 2, 2))
    preds = dict(net1=_cube((2, 2, 2)), net2=_cube((4, 2, 2)),
                 mean=torch.zeros(SHAPE, dtype=torch.int64))
    out = {}
    for name, pred in preds.items():
        metric = VolumeMetric()
        _evaluate(metric, [_sample(pred, gt, 'a')])
        out[name] = dict(summary=metric.summary, per_case=metric.per_case)
    return out


def test_write_metrics_per_predictor(tmp_path):
    per = _predictor_results()
    head = per['net2']
    json_path, csv_path = write_metrics(tmp_path, head['summary'], head['per_case'],
                                        per_predictor=per, headline='net2')
    data = json.loads(Path(json_path).read_text())
    # the headline stays where a one-network run puts it
    assert data['summary']['dice']['mean'] == pytest.approx(50.0)
    assert data['per_case'] == json.loads(json.dumps(head['per_case']))
    assert data['headline'] == 'net2' and list(data['per_predictor']) == ['net1', 'net2', 'mean']
    assert data['per_predictor']['net1']['dice']['mean'] == pytest.approx(100.0)
    assert data['per_predictor']['mean']['num_empty_pred'] == 1
    with open(csv_path, newline='') as f:
        rows = list(csv.DictReader(f))
    assert [r['predictor'] for r in rows] == ['net1', 'net2', 'mean']
    assert list(rows[0])[0] == 'predictor' and float(rows[1]['dice']) == pytest.approx(50.0)
    with pytest.raises(KeyError, match='headline'):
        write_metrics(tmp_path, head['summary'], [], per_predictor=per, headline='both')


def test_format_predictor_table_marks_the_headline():
    from fdpl.evaluation import format_predictor_table
    table = format_predictor_table(_predictor_results(), headline='net1')
    lines = table.splitlines()
    assert lines[0].split(' | ')[0].strip() == 'predictor'
    body = {line.split(' | ')[0].strip(): line for line in lines[2:5]}
    assert set(body) == {'SN1 *', 'SN2', 'mean'}
    assert '100.00 +- 0.00' in body['SN1 *'] and '50.00 +- 0.00' in body['SN2']
    assert body['mean'].rstrip().endswith('| 1')  # one empty prediction
    assert '* headline: net1' in table and 'num_cases: 1' in table
