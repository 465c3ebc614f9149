"""Segmenting new scans with a trained model.

* :func:`init_model`: a segmentor from a config and a checkpoint (or a
  checkpoint alone, or a model-zoo name), weights checked before use;
* :class:`VolSegInferencer`: files, folders, manifests or arrays in, label
  maps (and probabilities) out in each scan's own geometry, written as
  NIfTI with ``predictions.csv`` and ``env.json``;
* :func:`collect_cases` / :func:`check_cases`: the inputs, expanded and
  checked before any inference.

``tools/infer.py`` is the command line over them (``docs/inference.md``).
"""
from .inference import init_model, resolve_model
from .inferencer import VolSegInferencer
from .inputs import check_cases, collect_cases

__all__ = ['init_model', 'resolve_model', 'VolSegInferencer', 'collect_cases', 'check_cases']
