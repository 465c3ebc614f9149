"""Writes ``env.json`` into the work dir and stamps every checkpoint with its provenance."""
import logging
import os
import os.path as osp
from typing import Any, Dict, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop

from fdpl.registry import HOOKS
from fdpl.provenance.run_record import collect_env, to_json_safe, write_env_json

#: Key of ``checkpoint['meta']`` written by :class:`RunRecordHook`.
META_KEY = 'fdpl'
#: Value of ``checkpoint['meta']['fdpl']['format']``.
META_FORMAT = 'fdpl-checkpoint-meta/1'
# message hub scalars of validation that are timings, not scores
_NOT_SCORES = ('time', 'data_time')


def _built(loop: Any) -> bool:
    return isinstance(loop, BaseLoop)


def _plain_metrics(metrics: Optional[dict]) -> Dict[str, Any]:
    """Metrics as str -> int/float/str/None/list/dict (loadable with weights_only=True)."""
    out: Dict[str, Any] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        elif hasattr(value, 'item') and getattr(value, 'ndim', None) == 0:
            value = value.item()
        if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
            out[str(key)] = value
        else:
            out[str(key)] = to_json_safe(value)
    return out


@HOOKS.register_module()
class RunRecordHook(Hook):
    """Record what produced a training run and its checkpoints.

    * ``before_run`` (training only, rank 0): writes
      :func:`~fdpl.provenance.run_record.collect_env`'s record as ``env.json``
      into the work dir and into the run's timestamped log dir. mmengine
      builds the train loop, its dataloader and dataset before
      ``before_run`` in ``Runner.train`` (and the val loop, if any), so the
      datasets' ``split_file``, ``manifest_file`` and
      ``resolved_labeled_num`` are read from the built objects; nothing is
      built here. ``before_train`` rewrites both files once a resume has
      set the iteration and possibly the seed (``start_iter``,
      ``resumed_from``: ``{'checkpoint', 'iter'}``, the checkpoint None
      when mmengine picked the latest one of the work dir).
    * ``after_val_epoch``: keeps the metrics dict of the last validation
      (what ``RuntimeInfoHook`` puts into the message hub as ``val/<key>``)
      with its iteration. The checkpoint written at the same iteration
      just before the validation (``CheckpointHook.after_train_iter``) is
      updated in place with that score when ``refresh_last_checkpoint``;
      a best checkpoint is written after this hook and has it already.
    * ``before_save_checkpoint``: adds ``checkpoint['meta']['fdpl']``:
      ``format``, ``config`` (text), ``config_file``, ``dataset_type``,
      ``split_file``, ``split_sha256``, ``manifest_file``,
      ``manifest_sha256``, ``labeled_num``, ``iter``, ``seed``,
      ``deterministic``, ``fdpl_version``, ``git_commit``, ``git_dirty``
      and ``validation`` (``{'iter', 'metrics'}`` or None), all plain
      Python values, so the file loads with ``torch.load(weights_only=True)``.
      Its priority (``'NORMAL'``) is above ``SafeCheckpointHook``
      (``'LOWEST'``), which encodes the finished checkpoint.
    * ``after_load_checkpoint``: a resumed run gets the last validation
      back from the checkpoint's meta (or, for other checkpoints, from the
      ``val/`` scalars of its message hub).

    Args:
        filename (str): Name of the record file. Defaults to 'env.json'.
        refresh_last_checkpoint (bool): Update the meta of the checkpoint
            saved at the iteration of a validation with its score.
            Defaults to True.

    Example:
        >>> custom_hooks = [dict(type='RunRecordHook')]
    """

    priority = 'NORMAL'

    def __init__(self, filename: str = 'env.json', refresh_last_checkpoint: bool = True) -> None:
        if not isinstance(filename, str) or not filename or osp.basename(filename) != filename:
            raise ValueError(f'RunRecordHook: filename must be a plain file name, got '
                             f'{filename!r}')
        if not isinstance(refresh_last_checkpoint, bool):
            raise ValueError('RunRecordHook: refresh_last_checkpoint must be a bool, got '
                             f'{refresh_last_checkpoint!r}')
        self.filename = filename
        self.refresh_last_checkpoint = refresh_last_checkpoint
        self._record: Optional[Dict[str, Any]] = None
        self._config_text: Optional[str] = None
        self._validation: Optional[Dict[str, Any]] = None
        self._resumed_from: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ record
    def _collect(self, runner) -> Dict[str, Any]:
        datasets: Dict[str, Any] = {}
        for role in ('train', 'val'):
            loop = getattr(runner, f'_{role}_loop', None)
            if _built(loop) and getattr(loop, 'dataloader', None) is not None:
                datasets[role] = loop.dataloader.dataset
        return collect_env(runner.cfg, datasets=datasets, seed=runner.seed,
                           deterministic=runner.deterministic, kind='train',
                           work_dir=runner.work_dir,
                           extra=dict(experiment_name=runner.experiment_name,
                                      world_size=runner.world_size))

    def _write(self, runner) -> None:
        paths = [osp.join(runner.work_dir, self.filename)]
        log_dir = getattr(runner, 'log_dir', None)
        if log_dir and osp.isdir(log_dir):
            paths.append(osp.join(log_dir, self.filename))
        for path in paths:
            write_env_json(path, self._record)

    def before_run(self, runner) -> None:
        """Write the record of a training run (no-op for test/val runs).

        Args:
            runner (Runner): The runner.
        """
        if not _built(getattr(runner, '_train_loop', None)) or not is_main_process():
            return
        self._record = self._collect(runner)
        self._write(runner)

    def before_train(self, runner) -> None:
        """Rewrite the record with the start iteration and seed after a resume.

        Args:
            runner (Runner): The runner.
        """
        if not is_main_process():
            return
        if self._record is None:
            self._record = self._collect(runner)
        self._record.update(seed=runner.seed, start_iter=int(runner.iter),
                            resumed_from=self._resumed_from)
        self._write(runner)

    # -------------------------------------------------------------- validation
    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        """Keep the last validation's metrics; update the checkpoint of this iteration.

        Args:
            runner (Runner): The runner.
            metrics (dict, optional): The evaluator's results.
        """
        if metrics is None or not _built(getattr(runner, '_train_loop', None)):
            return
        it = int(runner.iter)
        self._validation = dict(iter=it, metrics=_plain_metrics(metrics))
        if self.refresh_last_checkpoint and is_main_process():
            self._refresh(runner, it)

    def _refresh(self, runner, it: int) -> None:
        path = runner.message_hub.get_info('last_ckpt')
        if not path or not osp.isfile(str(path)):
            return
        try:  # memory-mapped: only the meta is read unless the file is rewritten
            ckpt = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
        except Exception as error:  # noqa: BLE001 - never stop training for this
            print_log(f'RunRecordHook: could not read {path!r} to add the validation score: '
                      f'{error!r}', logger='current', level=logging.WARNING)
            return
        meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
        stamp = meta.get(META_KEY) if isinstance(meta, dict) else None
        if not isinstance(stamp, dict) or stamp.get('iter') != it \
                or stamp.get('validation') == self._validation:
            return
        stamp['validation'] = self._validation
        tmp = f'{path}.tmp{os.getpid()}'
        torch.save(ckpt, tmp)
        os.replace(tmp, path)

    def _latest_validation(self, runner) -> Optional[Dict[str, Any]]:
        if self._validation is not None:
            return self._validation
        scores = {}
        for key, buffer in runner.message_hub.log_scalars.items():
            if key.startswith('val/') and key[4:] not in _NOT_SCORES:
                scores[key[4:]] = buffer.current()
        return dict(iter=None, metrics=_plain_metrics(scores)) if scores else None

    # ------------------------------------------------------------- checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add ``checkpoint['meta']['fdpl']``.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint about to be written.
        """
        if self._record is None:
            self._record = self._collect(runner)
        if self._config_text is None:
            try:
                self._config_text = runner.cfg.pretty_text
            except Exception:  # noqa: BLE001 - e.g. objects in a config built in code
                self._config_text = str(runner.cfg)
        record, data = self._record, self._record['data']
        meta = checkpoint.setdefault('meta', {})
        it = meta.get('iter')
        meta[META_KEY] = dict(
            format=META_FORMAT,
            config=self._config_text,
            config_file=record['config_file'],
            dataset_type=data['dataset_type'],
            split_file=data['split_file'],
            split_sha256=data['split_sha256'],
            manifest_file=data['manifest_file'],
            manifest_sha256=data['manifest_sha256'],
            labeled_num=data['labeled_num'],
            iter=int(it) if it is not None else None,
            seed=runner.seed,
            deterministic=bool(runner.deterministic),
            fdpl_version=record['fdpl_version'],
            git_commit=record['git_commit'],
            git_dirty=record['git_dirty'],
            validation=self._latest_validation(runner))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Take the last validation over from a resumed checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        if not getattr(runner, '_resume', False):
            return  # weights only (load_from): a new run, with no validation yet
        meta = checkpoint.get('meta') or {}
        stamp = meta.get(META_KEY) if isinstance(meta, dict) else None
        if isinstance(stamp, dict) and stamp.get('validation'):
            self._validation = stamp['validation']
        self._resumed_from = dict(checkpoint=getattr(runner, '_load_from', None),
                                  iter=meta.get('iter') if isinstance(meta, dict) else None)
