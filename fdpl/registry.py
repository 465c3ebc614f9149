"""Registries of fdpl.

Every buildable component lives in a child of an mmengine root registry
(scope ``fdpl``), with ``locations`` so that modules are imported lazily on
first lookup. Pseudo-label strategies get a new root registry,
:data:`PSEUDO_LABELERS`.

Components of mmsegmentation stay reachable with their scope, e.g.
``type='mmseg.IoUMetric'``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['fdpl.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['fdpl.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['fdpl.engine'])
LOG_PROCESSORS = Registry(
    'log processor', parent=MMENGINE_LOG_PROCESSORS, locations=['fdpl.engine'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['fdpl.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['fdpl.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['fdpl.datasets.transforms'])
MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['fdpl.models'])
MODEL_WRAPPERS = Registry(
    'model wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['fdpl.models'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, locations=['fdpl.engine'])
OPTIM_WRAPPERS = Registry(
    'optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['fdpl.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['fdpl.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['fdpl.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, locations=['fdpl.evaluation'])
VISBACKENDS = Registry('vis backend', parent=MMENGINE_VISBACKENDS, locations=['fdpl.visualization'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, locations=['fdpl.visualization'])

#: Root registry of pseudo-label strategies (fixed, dynamic, plugins).
PSEUDO_LABELERS = Registry('pseudo labeler', scope='fdpl', locations=['fdpl.pseudo_labels'])

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS',
    'MODELS', 'MODEL_WRAPPERS', 'OPTIMIZERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS', 'METRICS',
    'EVALUATOR', 'VISBACKENDS', 'VISUALIZERS', 'PSEUDO_LABELERS'
]
