"""Segment whole scans with a trained model: files, folders, manifests or arrays in, label maps
out, in each scan's own geometry."""
import os.path as osp
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config

from .inference import ConfigType, _build, resolve_model
from .inputs import check_cases, collect_cases
from .outputs import (existing_outputs, output_paths, save_label_map, save_probabilities,
                      write_predictions_csv)

__all__ = ['VolSegInferencer']


def _type_name(transform: Any) -> str:
    name = transform.get('type', '') if isinstance(transform, dict) else type(transform).__name__
    name = name if isinstance(name, str) else getattr(name, '__name__', '')
    return name.split('.')[-1]


def _test_pipeline(cfg: Config) -> List[dict]:
    """The configured test pipeline: of the test dataloader, the val dataloader or
    ``test_pipeline``, the first found."""
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        while isinstance(dataset, dict) and not dataset.get('pipeline'):
            inner = dataset.get('datasets') or [dataset.get('dataset')]
            dataset = inner[0] if inner else None
        if isinstance(dataset, dict) and dataset.get('pipeline'):
            return [dict(t) for t in dataset['pipeline']]
    if cfg.get('test_pipeline'):
        return [dict(t) for t in cfg.test_pipeline]
    raise KeyError(f'config {cfg.filename!r} has no test pipeline (test_dataloader.dataset.'
                   'pipeline, val_dataloader.dataset.pipeline or test_pipeline)')


def _in_channels(model: torch.nn.Module) -> Optional[int]:
    for name in ('backbone', 'net1'):
        value = getattr(getattr(model, name, None), 'in_channels', None)
        if isinstance(value, int):
            return value
    for module in model.modules():
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            return int(module.in_channels)
    return None


class VolSegInferencer:
    """Segment scans that have no label with a trained fdpl segmentor.

    The model comes from a config and a checkpoint, a checkpoint alone (its
    ``meta['fdpl']['config']``) or a model-zoo name (see
    :func:`~fdpl.apis.resolve_model`). Each case goes through the config's
    own test pipeline, with only the loading transform chosen by the input
    (``LoadNiftiVolume`` / ``LoadH5Volume`` with ``with_label=False``; arrays
    skip loading), then through the model's ``predict``: sliding window or
    whole-volume pass (``test_cfg``), ``infer_with`` for two-network models,
    the inverse of the pipeline's spatial records (resampling back to the
    source grid) and the optional largest connected component.

    Call graph::

        __call__(inputs)
          ├─ prepare(inputs)      collect_cases -> check_cases -> existing outputs
          │                       (everything refused here, before inference)
          └─ run(cases)           per case:
               test pipeline (loader for its kind) -> model.test_step -> predict
               -> result dict -> <id>.nii.gz / <id>_probs.nii.gz / <id>.png,
                  predictions.csv (rewritten after each case), env.json (first)

    Args:
        model (str | Config | dict, optional): Config file or object, a
            checkpoint file (with ``weights`` None) or a model-zoo name.
        weights (str, optional): Checkpoint file.
        device (str, optional): Defaults to 'cuda' when available, else
            'cpu'.
        mode (str, optional): Inference mode: 'classic' or 'gaussian'
            (sliding window, see :func:`fdpl.inference.sliding_window_inference`)
            or 'whole' (one pass over the whole volume padded to a multiple
            of 16). None keeps the config's.
        overlap (float, optional): Window overlap in ``[0, 1)``; replaces the
            config's ``stride``. None keeps the config's windows.
        lcc (bool, optional): Keep the largest connected component of the
            foreground. None keeps the config's.
        infer_with (str, optional): 'net1', 'net2' or 'mean' (two-network
            models only). None keeps the config's.
        cfg_options (dict, optional): Overrides merged into the config.

    Example:
        >>> inferencer = VolSegInferencer(weights='work_dirs/la/iter_600.pth')
        >>> results = inferencer('scans/', out_dir='preds/')
        >>> results[0]['pred'].shape  # (D, H, W) of the first scan
    """

    def __init__(self,
                 model: Optional[ConfigType] = None,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 mode: Optional[str] = None,
                 overlap: Optional[float] = None,
                 lcc: Optional[bool] = None,
                 infer_with: Optional[str] = None,
                 cfg_options: Optional[dict] = None) -> None:
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        cfg, checkpoint, checkpoint_file, self.config_source = resolve_model(model, weights)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        self._set_test_options(cfg, mode, overlap, lcc)
        self.model = _build(cfg, checkpoint, checkpoint_file, device)
        if infer_with is not None:
            self._set_infer_with(infer_with)
        self.cfg = cfg
        self.checkpoint_file = checkpoint_file
        self.device = torch.device(device)
        self.in_channels = _in_channels(self.model)
        pipeline = _test_pipeline(cfg)
        loaders = [t for t in pipeline if _type_name(t).startswith('Load')]
        self._transforms = [t for t in pipeline if not _type_name(t).startswith('Load')]
        self._loader_cfgs = dict(
            nifti=self._loader_cfg(loaders, 'LoadNiftiVolume'),
            h5=self._loader_cfg(loaders, 'LoadH5Volume'))
        self._pipelines: Dict[str, List[Callable]] = {}

    # ----------------------------------------------------------------- set-up
    @staticmethod
    def _set_test_options(cfg: Config, mode: Optional[str], overlap: Optional[float],
                          lcc: Optional[bool]) -> None:
        test_cfg = dict(cfg.model.get('test_cfg') or {})
        if test_cfg.get('predictors'):
            test_cfg['predictors'] = None  # only the headline predictor's map is written
        if mode is not None:
            from fdpl.inference import sliding_window_inference
            # an unknown mode is refused here, before any case is read
            sliding_window_inference(torch.zeros(1, 1, 2, 2, 2), lambda x: x, 2, mode=mode)
            test_cfg.update(mode=mode, whole=False)
        if overlap is not None:
            if not 0 <= float(overlap) < 1:
                raise ValueError(f'overlap must lie in [0, 1), got {overlap}')
            test_cfg.update(overlap=float(overlap), stride=None)
        if lcc is not None:
            test_cfg['lcc'] = bool(lcc)
        cfg.model.test_cfg = test_cfg

    def _set_infer_with(self, infer_with: str) -> None:
        if not hasattr(self.model, 'infer_with'):
            raise ValueError(f'infer_with={infer_with!r} applies to two-network models '
                             f'(SemiSupervisedSegmentor); {type(self.model).__name__} has one '
                             'network')
        from fdpl.models.segmentors.semi_supervised import INFER_WITH
        if infer_with not in INFER_WITH:
            raise ValueError(f'infer_with must be one of {INFER_WITH}, got {infer_with!r}')
        self.model.infer_with = infer_with

    @staticmethod
    def _loader_cfg(loaders: List[dict], name: str) -> dict:
        """The config's loader of this type without its label, or the default one."""
        for loader in loaders:
            if _type_name(loader) == name:
                loader = dict(loader, with_label=False)
                loader.pop('num_classes', None)
                loader.pop('round_labels', None)
                return loader
        return dict(type=name, with_label=False)

    def _pipeline(self, kind: str) -> List[Callable]:
        if kind not in self._pipelines:
            from fdpl.registry import TRANSFORMS
            cfgs = self._transforms if kind == 'array' else [self._loader_cfgs[kind]] + \
                self._transforms
            self._pipelines[kind] = [TRANSFORMS.build(t) for t in cfgs]
        return self._pipelines[kind]

    @property
    def test_cfg(self) -> Dict[str, Any]:
        """The model's inference options (mode, windows, whole, lcc, ...)."""
        return self.model.test_cfg

    # --------------------------------------------------------------- inputs
    def prepare(self,
                inputs: Any,
                modalities: Optional[Sequence[str]] = None,
                images_dir: str = '',
                suffix: str = '.nii.gz',
                out_dir: Optional[str] = None,
                save_probs: bool = False,
                overwrite: bool = False) -> List[Dict[str, Any]]:
        """Collect and check every case; nothing is inferred or written.

        Args:
            inputs: Files, folders, manifests or arrays (see
                :mod:`fdpl.apis.inputs`).
            modalities, images_dir, suffix: See
                :func:`~fdpl.apis.inputs.collect_cases`.
            out_dir (str, optional): Output folder to check for predictions
                of the same cases.
            save_probs (bool): Probability maps will be written: existing
                ones count as predictions too.
            overwrite (bool): Allow replacing existing predictions.

        Returns:
            list[dict]: The checked cases (see
            :func:`~fdpl.apis.inputs.check_cases`).

        Raises:
            FileNotFoundError, ValueError, KeyError: A bad input, named; an
                output folder already holding a prediction of a case.
        """
        h5 = self._loader_cfgs['h5']
        cases = check_cases(collect_cases(inputs, modalities, images_dir, suffix),
                            in_channels=self.in_channels, h5_key=h5.get('img_key', 'image'),
                            h5_axis_order=h5.get('axis_order', 'WHD'))
        if out_dir is not None and not overwrite:
            found = existing_outputs(out_dir, [c['id'] for c in cases], save_probs)
            if found:
                raise FileExistsError(
                    f'output folder {out_dir!r} already holds predictions of the same cases: '
                    f'{found[:5]}{" ..." if len(found) > 5 else ""}; pass overwrite=True '
                    '(--overwrite) to replace them, or choose another folder')
        return cases

    # ------------------------------------------------------------ inference
    def predict_case(self, case: Dict[str, Any], return_probs: bool = False,
                     return_image: bool = False) -> Dict[str, Any]:
        """Segment one checked case.

        Args:
            case (dict): From :meth:`prepare`.
            return_probs (bool): Also return the class probabilities.
            return_image (bool): Also return the preprocessed first channel
                mapped back to the source grid (for overlays).

        Returns:
            dict: ``case_id``, ``inputs`` (files), ``pred`` uint8
            ``(D, H, W)`` on the source grid, ``probs`` float32
            ``(K, D, H, W)`` or None, ``affine``, ``spacing`` (``(d, h, w)``
            mm or None), ``axis_order``, ``foreground_voxels``,
            ``foreground_ml`` (None without spacing), ``seconds``, and
            ``image`` when asked.
        """
        from fdpl.structures import invert_record
        start = time.perf_counter()
        if case['kind'] == 'array':
            spacing = case.get('spacing') or (1.0, 1.0, 1.0)
            affine = case.get('affine')
            if affine is None:  # written (W, H, D) like a NIfTI: x = W
                affine = np.diag(tuple(spacing[::-1]) + (1.0, ))
            results = dict(img=np.ascontiguousarray(case['array'], dtype=np.float32),
                           ori_shape=case['shape'], spacing=tuple(spacing), affine=affine,
                           transforms=[], case_id=case['id'])
        else:
            paths = case['paths']
            results = dict(img_path=paths[0] if len(paths) == 1 else list(paths),
                           case_id=case['id'])
        for transform in self._pipeline(case['kind']):
            results = transform(results)
            if results is None:
                raise RuntimeError(f'transform {transform!r} of the test pipeline dropped case '
                                   f'{case["id"]!r}')
        test_cfg = self.model.test_cfg
        keep = test_cfg['return_logits']
        test_cfg['return_logits'] = bool(return_probs)
        try:
            sample = self.model.test_step(dict(inputs=[results['inputs']],
                                               data_samples=[results['data_samples']]))[0]
        finally:
            test_cfg['return_logits'] = keep
        pred = sample.pred_sem_seg.data[0].cpu().numpy()
        if tuple(pred.shape) != tuple(case['shape']):
            raise RuntimeError(f'prediction of case {case["id"]!r} has shape {pred.shape} after '
                               f'undoing the test pipeline, the input has {case["shape"]}')
        pred = pred.astype(np.uint8)
        meta = sample.metainfo
        spacing = case.get('spacing')
        voxels = int(np.count_nonzero(pred))
        out = dict(case_id=case['id'], inputs=list(case['paths']), pred=pred,
                   probs=sample.seg_logits.data.cpu().numpy() if return_probs else None,
                   affine=np.asarray(meta.get('affine', np.eye(4)), dtype=np.float64),
                   spacing=spacing, axis_order=case['axis_order'], foreground_voxels=voxels,
                   foreground_ml=None if spacing is None else voxels * float(np.prod(spacing))
                   / 1000.0)
        if return_image:
            image = results['inputs'][0].numpy()
            records = meta.get('transforms') or []
            out['image'] = invert_record(image[None], records)[0] if records else image
        out['seconds'] = time.perf_counter() - start
        return out

    def run(self,
            cases: List[Dict[str, Any]],
            out_dir: Optional[str] = None,
            save_probs: bool = False,
            show_dir: Optional[str] = None,
            return_probs: bool = False,
            keep_arrays: bool = True,
            record: Optional[Dict[str, Any]] = None) -> Iterator[Dict[str, Any]]:
        """Segment checked cases one at a time, writing outputs as they come.

        Args:
            cases (list[dict]): From :meth:`prepare`.
            out_dir (str, optional): Writes ``<id>.nii.gz`` (uint8 labels,
                the source's affine, shape and axis order),
                ``predictions.csv`` (rewritten after each case) and
                ``env.json`` (before the first case).
            save_probs (bool): Also write ``<id>_probs.nii.gz``
                (``(x, y, z, K)`` float32). Needs ``out_dir``.
            show_dir (str, optional): Writes ``<id>.png`` overlays.
            return_probs (bool): Keep probabilities in the results.
            keep_arrays (bool): Keep ``pred`` (and ``probs``) in the
                results; False drops them once written.
            record (dict, optional): Extra keys for ``env.json``.

        Yields:
            dict: The result of :meth:`predict_case` plus ``output``,
            ``probs_output`` and ``overlay`` (paths or None).
        """
        if save_probs and out_dir is None:
            raise ValueError('save_probs needs out_dir')
        rows: List[Dict[str, Any]] = []
        if out_dir is not None:
            self.write_record(out_dir, cases, record)
        for case in cases:
            result = self.predict_case(case, return_probs=return_probs or save_probs,
                                       return_image=show_dir is not None)
            start = time.perf_counter()
            result.update(output=None, probs_output=None, overlay=None)
            if out_dir is not None:
                paths = output_paths(out_dir, case['id'])
                result['output'] = save_label_map(result['pred'], result['affine'],
                                                  paths['label'], result['axis_order'])
                if save_probs:
                    result['probs_output'] = save_probabilities(
                        result['probs'], result['affine'], paths['probs'], result['axis_order'])
            if show_dir is not None:
                from fdpl.visualization import save_overlays

                from .outputs import atomic_write
                image = result.pop('image')
                result['overlay'] = atomic_write(
                    osp.join(show_dir, f'{case["id"]}.png'),
                    lambda tmp: save_overlays(image, result['pred'], None, tmp))
            result['seconds'] += time.perf_counter() - start
            if out_dir is not None:
                rows.append(dict(case=result['case_id'], inputs=result['inputs'],
                                 output=result['output'], probs=result['probs_output'],
                                 foreground_voxels=result['foreground_voxels'],
                                 foreground_ml=result['foreground_ml'],
                                 spacing_mm=result['spacing'], seconds=result['seconds']))
                write_predictions_csv(osp.join(out_dir, 'predictions.csv'), rows)
            if not return_probs:
                result['probs'] = None
            if not keep_arrays:
                result['pred'] = result['probs'] = None
            yield result

    def write_record(self, out_dir: str, cases: List[Dict[str, Any]],
                     extra: Optional[Dict[str, Any]] = None) -> str:
        """Write ``env.json``: environment, config, checkpoint, options and input files.

        Returns:
            str: The path written.
        """
        from fdpl.provenance.run_record import collect_env, file_sha256, write_env_json
        meta = dict(getattr(self.model, 'checkpoint_meta', {}) or {})
        stamp = meta.get('fdpl') if isinstance(meta.get('fdpl'), dict) else None
        if stamp and stamp.get('config'):
            meta.pop('cfg', None)  # the same text as meta['fdpl']['config']
        checkpoint = None
        if self.checkpoint_file:
            checkpoint = dict(path=osp.abspath(self.checkpoint_file),
                              sha256=file_sha256(self.checkpoint_file), meta=meta)
        inference = dict(device=str(self.device), test_cfg=dict(self.model.test_cfg),
                         infer_with=getattr(self.model, 'infer_with', None),
                         model=type(self.model).__name__, in_channels=self.in_channels,
                         test_pipeline=_test_pipeline(self.cfg))
        inputs = [dict(case=c['id'], kind=c['kind'], files=list(c['paths']),
                       sha256=[file_sha256(p) for p in c['paths']]) for c in cases]
        record = collect_env(self.cfg, kind='infer', work_dir=out_dir,
                             extra=dict(config_file=self.config_source, checkpoint=checkpoint,
                                        inference=inference, inputs=inputs, **(extra or {})))
        return write_env_json(osp.join(out_dir, 'env.json'), record)

    def __call__(self,
                 inputs: Any,
                 return_probs: bool = False,
                 out_dir: Optional[str] = None,
                 save_probs: bool = False,
                 show_dir: Optional[str] = None,
                 overwrite: bool = False,
                 modalities: Optional[Sequence[str]] = None,
                 images_dir: str = '',
                 suffix: str = '.nii.gz',
                 progress: bool = False) -> List[Dict[str, Any]]:
        """Check every input, then segment them.

        Args:
            inputs: A NIfTI / HDF5 file, a folder, a manifest, an array
                ``(C, D, H, W)`` or a list of them.
            return_probs (bool): Return class probabilities ``(K, D, H, W)``.
            out_dir, save_probs, show_dir: See :meth:`run`.
            overwrite (bool): Replace predictions already in ``out_dir``.
            modalities, images_dir, suffix: See
                :func:`~fdpl.apis.inputs.collect_cases`.
            progress (bool): Show a progress bar with ETA.

        Returns:
            list[dict]: One result per case (see :meth:`predict_case`), in
            input order.
        """
        cases = self.prepare(inputs, modalities, images_dir, suffix, out_dir, save_probs,
                             overwrite)
        bar = None
        if progress:
            from mmengine.utils import ProgressBar
            bar = ProgressBar(len(cases))
        results = []
        for result in self.run(cases, out_dir, save_probs, show_dir, return_probs):
            results.append(result)
            if bar is not None:
                bar.update()
        return results
