"""Per-case volume segmentation metric for the mmengine evaluator."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement

from fdpl.inference.postprocess import largest_connected_component
from fdpl.registry import METRICS

from ..functional import binary_metrics

_NAMES = ('dice', 'jaccard', 'hd95', 'asd')
_PERCENT = ('dice', 'jaccard')


@METRICS.register_module()
class VolumeMetric(BaseMetric):
    """Dice, Jaccard, 95HD and ASD per case, averaged over the data set.

    Each case is scored class by class on binary masks (``pred == k`` vs
    ``gt == k``) with :func:`~fdpl.evaluation.functional.binary_metrics`,
    which also holds the rules for empty masks (an empty prediction scores
    0 everywhere, as in the field's test scripts, and is counted).

    Returned keys (flat, before the evaluator's ``prefix``):

    * ``dice``, ``jaccard`` (%), ``hd95``, ``asd`` (voxels or mm): means over
      cases; ``<key>_std`` the population standard deviation (``ddof=0``).
      Distance means skip NaN values (cases with an empty ground truth);
    * ``num_empty_pred``, ``num_empty_gt``: counts of cases, and
      ``num_cases``.

    With several ``classes`` every key gets the suffix ``_cls<k>``; with
    ``lcc='both'`` the scores after largest-connected-component filtering
    come as a second set with the suffix ``_lcc`` (before the class suffix),
    e.g. ``dice_lcc_cls2_std``.

    After :meth:`compute_metrics`, :attr:`per_case` holds one row per case,
    class and post-processing (keys ``case_id``, ``class``,
    ``postprocess`` ('none' or 'lcc'), ``dice``, ``jaccard`` (%), ``hd95``,
    ``asd``, ``empty_pred``, ``empty_gt``) and :attr:`summary` maps every
    metric name to ``{'mean': ..., 'std': ...}`` plus the counts, ready for
    :func:`fdpl.evaluation.report.write_metrics`.

    Args:
        classes (Sequence[int]): Label values to score. Defaults to ``(1,)``.
        spacing_mode (str): ``'voxel'`` (distances in voxels, the field's
            convention) or ``'mm'`` (uses each sample's ``spacing`` (d, h, w)).
        lcc (bool | str): False: raw predictions; True: keep only the
            largest connected component of each class before scoring;
            ``'both'``: report both sets.
        pred_key (str): Field of the data sample holding the prediction,
            e.g. ``'pred_sem_seg_net2'`` for one predictor of a model run
            with ``test_cfg.predictors``. Defaults to ``'pred_sem_seg'``.
        prefix (str, optional): Prefix of the metric names.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results
            across ranks. Defaults to ``'cpu'``.
    """

    def __init__(self,
                 classes: Sequence[int] = (1, ),
                 spacing_mode: str = 'voxel',
                 lcc: Union[bool, str] = False,
                 pred_key: str = 'pred_sem_seg',
                 prefix: Optional[str] = None,
                 collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(classes, int):
            classes = (classes, )
        classes = tuple(int(k) for k in classes)
        if not classes or min(classes) < 0 or len(set(classes)) != len(classes):
            raise ValueError('VolumeMetric: classes must be distinct non-negative label values, '
                             f'got {classes}')
        if spacing_mode not in ('voxel', 'mm'):
            raise ValueError(f"VolumeMetric: spacing_mode must be 'voxel' or 'mm', "
                             f'got {spacing_mode!r}')
        if lcc not in (False, True, 'both'):
            raise ValueError(f"VolumeMetric: lcc must be False, True or 'both', got {lcc!r}")
        self.classes = classes
        self.spacing_mode = spacing_mode
        self.lcc = lcc
        self.pred_key = str(pred_key)
        self.per_case: List[Dict[str, Any]] = []
        self.summary: Dict[str, Any] = {}
        self._num_seen = 0

    @property
    def _variants(self) -> Tuple[str, ...]:
        if self.lcc == 'both':
            return ('none', 'lcc')
        return ('lcc', ) if self.lcc else ('none', )

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score every case of a batch and store its rows.

        A case without ``case_id`` is named by its ``img_path``, else by its
        position (``case_<n>``).

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict]): Samples as dicts (the evaluator
                calls ``to_dict()``), with ``pred_sem_seg['data']`` and
                ``gt_sem_seg['data']`` of shape ``(1, D, H, W)`` (the
                prediction under ``pred_key``), and
                optionally ``case_id`` and ``spacing`` (d, h, w).
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            case_id = self._case_id(sample)
            pred = self._label_map(sample, self.pred_key, case_id)
            gt = self._label_map(sample, 'gt_sem_seg', case_id)
            if pred.shape != gt.shape:
                raise ValueError(f'VolumeMetric: case {case_id!r}: prediction shape {pred.shape} '
                                 f'differs from ground-truth shape {gt.shape}')
            spacing = self._spacing(sample, case_id)
            rows = []
            for variant in self._variants:
                for k in self.classes:
                    mask = pred == k
                    if variant == 'lcc':
                        mask = largest_connected_component(mask)
                    scores = binary_metrics(mask, gt == k, spacing)
                    row = dict(case_id=case_id, postprocess=variant)
                    row['class'] = k
                    for name in _NAMES:
                        scale = 100. if name in _PERCENT else 1.
                        row[name] = scores[name] * scale
                    row['empty_pred'] = scores['empty_pred']
                    row['empty_gt'] = scores['empty_gt']
                    rows.append(row)
            # One item per case: the evaluator truncates results to the data set size.
            self.results.append(dict(case_id=case_id, rows=rows))

    def compute_metrics(self, results: list) -> Dict[str, Union[float, int]]:
        """Average the per-case rows.

        Args:
            results (list): Items stored by :meth:`process`, gathered from all
                ranks.

        Returns:
            dict: Flat metric names to numbers (see the class docstring).
        """
        rows = [dict(row) for item in results for row in item['rows']]
        metrics: Dict[str, Union[float, int]] = {}
        summary: Dict[str, Any] = {}
        for variant in self._variants:
            for k in self.classes:
                suffix = self._suffix(variant, k)
                chosen = [r for r in rows if r['class'] == k and r['postprocess'] == variant]
                for name in _NAMES:
                    mean, std = _mean_std([r[name] for r in chosen])
                    metrics[name + suffix] = mean
                    metrics[name + suffix + '_std'] = std
                    summary[name + suffix] = dict(mean=mean, std=std)
                for flag in ('empty_pred', 'empty_gt'):
                    count = int(sum(bool(r[flag]) for r in chosen))
                    metrics[f'num_{flag}{suffix}'] = count
                    summary[f'num_{flag}{suffix}'] = count
        metrics['num_cases'] = len(results)
        summary['num_cases'] = len(results)
        self.per_case = rows
        self.summary = summary
        return metrics

    def _suffix(self, variant: str, k: int) -> str:
        suffix = '_lcc' if (variant == 'lcc' and self.lcc == 'both') else ''
        if len(self.classes) > 1:
            suffix += f'_cls{k}'
        return suffix

    def _case_id(self, sample: dict) -> str:
        self._num_seen += 1
        case_id = sample.get('case_id')
        if case_id is None:
            case_id = sample.get('img_path')
        return str(case_id) if case_id is not None else f'case_{self._num_seen - 1}'

    @staticmethod
    def _label_map(sample: dict, key: str, case_id: str) -> np.ndarray:
        if key not in sample:
            raise KeyError(f'VolumeMetric: case {case_id!r} has no {key!r}; the model must fill '
                           'pred_sem_seg and the pipeline gt_sem_seg')
        field = sample[key]
        if isinstance(field, BaseDataElement):
            field = field.to_dict()
        data = field['data'] if isinstance(field, dict) else field
        if isinstance(data, torch.Tensor):
            data = data.detach().cpu().numpy()
        data = np.asarray(data)
        if data.ndim == 4 and data.shape[0] == 1:
            data = data[0]
        if data.ndim != 3:
            raise ValueError(f'VolumeMetric: case {case_id!r}: {key} must be (1, D, H, W) or '
                             f'(D, H, W), got shape {data.shape}')
        return data

    def _spacing(self, sample: dict, case_id: str) -> Optional[Tuple[float, float, float]]:
        if self.spacing_mode == 'voxel':
            return None
        spacing = sample.get('spacing')
        if spacing is None:
            raise KeyError(f"VolumeMetric: spacing_mode='mm' but case {case_id!r} has no "
                           "'spacing' in its metainfo")
        if isinstance(spacing, torch.Tensor):
            spacing = spacing.detach().cpu().numpy()
        spacing = np.asarray(spacing, dtype=float).ravel()
        if spacing.size != 3:
            raise ValueError(f'VolumeMetric: case {case_id!r}: spacing must be (d, h, w), '
                             f'got {spacing.tolist()}')
        return tuple(float(s) for s in spacing)


def _mean_std(values: List[float]) -> Tuple[float, float]:
    """NaN-skipping mean and population std; NaN when nothing is left."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return float('nan'), float('nan')
    return float(arr.mean()), float(arr.std())
