"""``model.semi_train_cfg``: the one home of the pseudo-label method's settings.

:class:`~fdpl.models.SemiSupervisedSegmentor` validates it in its
constructor (every unknown key is an error that names it, with a "did you
mean"); :class:`~fdpl.engine.hooks.PseudoLabelHook` reads it from the model
at ``before_run`` and only does the mechanics; :func:`fdpl.utils.check_config`
derives the context margin of ``ContextCrop3D`` from its ``shift`` entry.

The options and their defaults (METHOD.md section 7 for the choices)::

    semi_train_cfg = dict(
        # name -> strategy config (registry PSEUDO_LABELERS); None switches one off
        strategies=dict(fix=dict(type='FixedPseudoLabel'),
                        dyn=dict(type='DynamicPseudoLabel')),
        # shifted crops of every strategy that shifts (DynamicPseudoLabel):
        # range None = [ceil(P/16), floor(P/4)] of the patch side P, or (lo, hi),
        # or one pair per axis; pad=True applies the drawn shift even where the
        # window leaves the volume (zero padding), False clips it to the content
        shift=dict(range=None, axes=('h', 'w'), pad=False),
        cut=dict(type='CutMix'),           # None: no CUT
        cut_students=(2, ),                # sub-networks fed the CUT images
        unsup_weights=None,                # per-term factor; None = 1.0 for each strategy
        schedule=dict(weight_max=1.0, warmup_iters=0, rampup_iters=6000,
                      rampup_step=150, ramp='sigmoid'),
        confidence_threshold=None,         # e.g. 0.65: mask less confident voxels
        teacher_mode='train_frozen',       # BN / dropout of the teacher passes
        teacher_batch_size=None,           # windows per teacher pass; None = auto (speed only)
        noise=0.0)                         # U(-noise, noise) on the student inputs

``strategies``, ``cut`` and ``unsup_weights`` replace the default as a whole;
``shift`` and ``schedule`` are merged key by key. In configs,
``_base_/models/vnet_pair.py`` writes every option out and children merge
into it (``model = dict(semi_train_cfg=dict(schedule=dict(weight_max=0.3)))``).
"""
import copy
import difflib
import inspect
from collections import OrderedDict
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from mmengine.config import ConfigDict

from fdpl.registry import PSEUDO_LABELERS

DEFAULT_SEMI_TRAIN_CFG: Dict[str, Any] = dict(
    strategies=dict(fix=dict(type='FixedPseudoLabel'), dyn=dict(type='DynamicPseudoLabel')),
    shift=dict(range=None, axes=('h', 'w'), pad=False),
    cut=dict(type='CutMix'),
    cut_students=(2, ),
    unsup_weights=None,
    schedule=dict(weight_max=1.0, warmup_iters=0, rampup_iters=6000, rampup_step=150,
                  ramp='sigmoid'),
    confidence_threshold=None,
    teacher_mode='train_frozen',
    teacher_batch_size=None,
    noise=0.0)

#: Entries merged key by key with the defaults (the others are replaced whole).
_NESTED = ('shift', 'schedule')
#: Strategy options that ``shift`` sets: ``shift.<key>`` -> constructor argument.
SHIFT_OPTIONS = OrderedDict(range='shift_range', axes='shift_axes', pad='shift_pad')
#: Keys written at the wrong place, and where they belong.
_HINTS = {
    'weight_max': 'schedule.weight_max', 'warmup_iters': 'schedule.warmup_iters',
    'rampup_iters': 'schedule.rampup_iters', 'rampup_step': 'schedule.rampup_step',
    'ramp': 'schedule.ramp', 'shift_range': 'shift.range', 'shift_axes': 'shift.axes',
    'shift_pad': 'shift.pad', 'max_shift': 'shift.range (the context margin is derived from it)',
    'pad': 'shift.pad', 'range': 'shift.range', 'axes': 'shift.axes',
}
_TEACHER_MODES = ('train_frozen', 'eval', 'train')
PATH = 'model.semi_train_cfg'


def _did_you_mean(key: str, expected: Iterable[str], hints: Mapping[str, str]) -> str:
    if key in hints:
        return f'; did you mean {hints[key]!r}?'
    close = difflib.get_close_matches(key, list(expected), n=1, cutoff=0.6)
    return f'; did you mean {close[0]!r}?' if close else ''


def unknown_option(path: str, key: str, expected: Iterable[str],
                   hints: Optional[Mapping[str, str]] = None) -> ValueError:
    """The error for an option that nothing reads: names it, lists the options.

    Examples:
        >>> print(unknown_option('model.semi_train_cfg.schedule', 'rampup_iter',
        ...                      ['weight_max', 'rampup_iters']))
        model.semi_train_cfg.schedule.rampup_iter is not an option; expected one of weight_max, rampup_iters; did you mean 'rampup_iters'?
    """  # noqa: E501
    expected = list(expected)
    return ValueError(f'{path}.{key} is not an option; expected one of '
                      f'{", ".join(expected)}{_did_you_mean(key, expected, hints or {})}')


def _check_keys(cfg: Mapping, expected: Sequence[str], path: str,
                hints: Optional[Mapping[str, str]] = None) -> None:
    for key in cfg:
        if key not in expected:
            raise unknown_option(path, key, expected, hints)


def _strategy_class(cfg: Any, path: str):
    """The class a registry config builds (KeyError naming the path if none)."""
    kind = cfg.get('type')
    if inspect.isclass(kind):
        return kind
    if not isinstance(kind, str):
        raise ValueError(f'{path}.type must name a registered class, got {kind!r}')
    cls = PSEUDO_LABELERS.get(kind)
    if cls is None:
        names = sorted(PSEUDO_LABELERS.module_dict)
        raise KeyError(f'{path}.type={kind!r} is not in the PSEUDO_LABELERS registry '
                       f'(registered: {", ".join(names)}){_did_you_mean(kind, names, {})}; '
                       'a plugin needs custom_imports')
    return cls


def _init_options(cls) -> Optional[Tuple[str, ...]]:
    """Keyword options of ``cls.__init__``; None when it takes ``**kwargs``."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _check_registry_cfg(cfg: Mapping, path: str,
                        forbidden: Optional[Mapping[str, str]] = None) -> type:
    forbidden = forbidden or {}
    cls = _strategy_class(cfg, path)
    options = _init_options(cls)
    if options is not None:
        options = tuple(o for o in options if o not in forbidden)
    for key in cfg:
        if key in ('type', '_scope_'):
            continue
        if key in forbidden:
            raise ValueError(f'{path}.{key} is not read there: set {forbidden[key]} instead '
                             f'(one home for every strategy that shifts)')
        if options is not None and key not in options:
            raise ValueError(f'{path}.{key} is not an option of {cls.__name__}; expected one '
                             f'of {", ".join(options)}{_did_you_mean(key, options, {})}')
    return cls


def _check_number(value: Any, path: str, low: float, high: float = float('inf'),
                  integer: bool = False, open_low: bool = False, open_high: bool = False) -> None:
    kinds = (int, ) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok:
        ok = (value > low if open_low else value >= low) and (
            value < high if open_high else value <= high)
    if not ok:
        lo, hi = '(' if open_low else '[', ')' if open_high else ']'
        kind = 'an int' if integer else 'a number'
        raise ValueError(f'{path} must be {kind} in {lo}{low}, {high}{hi}, got {value!r}')


def normalize_semi_train_cfg(cfg: Optional[Mapping] = None, path: str = PATH) -> ConfigDict:
    """Check ``semi_train_cfg`` and complete it with the defaults.

    Args:
        cfg (Mapping, optional): The user's settings; None = all defaults.
        path (str): How the settings are named in error messages.

    Returns:
        ConfigDict: Every option of :data:`DEFAULT_SEMI_TRAIN_CFG`, with
        ``unsup_weights`` filled in (1.0 for each strategy not listed) and
        ``cut_students`` a tuple.

    Raises:
        ValueError: An option nothing reads (named, with a "did you mean"),
            or a bad value.
        KeyError: A strategy type that is not registered.
    """
    cfg = dict(cfg or {})
    _check_keys(cfg, list(DEFAULT_SEMI_TRAIN_CFG), path, _HINTS)
    out = copy.deepcopy(DEFAULT_SEMI_TRAIN_CFG)
    for key, value in cfg.items():
        if key in _NESTED:
            if not isinstance(value, Mapping):
                raise ValueError(f'{path}.{key} must be a dict, got {value!r}')
            hints = {k: v[len(key) + 1:] for k, v in _HINTS.items() if v.startswith(key + '.')}
            _check_keys(value, list(out[key]), f'{path}.{key}', hints)
            out[key].update(copy.deepcopy(dict(value)))
        else:
            out[key] = copy.deepcopy(value)

    # strategies
    strategies = out['strategies']
    if not isinstance(strategies, Mapping):
        raise ValueError(f'{path}.strategies must be a dict name -> strategy config, '
                         f'got {strategies!r}')
    if not any(v is not None for v in strategies.values()):
        raise ValueError(f'{path}.strategies needs at least one strategy that is not None')
    shift_forbidden = {v: f'{path}.shift.{k}' for k, v in SHIFT_OPTIONS.items()}
    for name, scfg in strategies.items():
        if not isinstance(name, str) or '_' in name or not name.isidentifier():
            raise ValueError(f'{path}.strategies: strategy name {name!r} must be an '
                             'identifier without "_"')
        if scfg is None:
            continue
        spath = f'{path}.strategies.{name}'
        if not isinstance(scfg, Mapping):
            _check_strategy_object(scfg, spath)
            continue
        cls = _check_registry_cfg(scfg, spath, shift_forbidden)
        _check_strategy_class(cls, spath)
        if out['confidence_threshold'] is not None and 'confidence_threshold' in scfg:
            raise ValueError(f'{spath}.confidence_threshold and {path}.confidence_threshold '
                             'are both set; keep one')

    # shift
    from fdpl.pseudo_labels.functional import shift_axis_indices, shift_magnitudes
    shift = out['shift']
    shift_axis_indices(shift['axes'])
    if not isinstance(shift['pad'], bool):
        raise ValueError(f'{path}.shift.pad must be True or False, got {shift["pad"]!r}')
    try:
        shift_magnitudes(shift['range'], shift['axes'], (64, 64, 64))
    except ValueError as e:
        raise ValueError(f'{path}.shift.range: {e}') from None

    # CUT
    if out['cut'] is not None:
        if isinstance(out['cut'], Mapping):
            _check_registry_cfg(out['cut'], f'{path}.cut')
        elif not hasattr(out['cut'], 'draw'):
            raise ValueError(f'{path}.cut must be a CUT config or None, got {out["cut"]!r}')
    students = out['cut_students']
    if (not isinstance(students, Sequence) or isinstance(students, str)
            or any(s not in (1, 2) for s in students)):
        raise ValueError(f'{path}.cut_students must contain 1 and/or 2, got {students!r}')
    out['cut_students'] = tuple(students)

    # weights and schedule
    weights = out['unsup_weights']
    if weights is None:
        weights = {}
    if not isinstance(weights, Mapping):
        raise ValueError(f'{path}.unsup_weights must be a dict term -> factor, got {weights!r}')
    for term, w in weights.items():
        if term not in strategies:
            raise unknown_option(f'{path}.unsup_weights', term, list(strategies))
        _check_number(w, f'{path}.unsup_weights.{term}', 0.0)
    out['unsup_weights'] = {n: float(weights.get(n, 1.0)) for n in strategies}
    from fdpl.engine.weight_schedule import RAMPS
    sched = out['schedule']
    _check_number(sched['weight_max'], f'{path}.schedule.weight_max', 0.0)
    for key in ('warmup_iters', 'rampup_iters'):
        _check_number(sched[key], f'{path}.schedule.{key}', 0, integer=True)
    _check_number(sched['rampup_step'], f'{path}.schedule.rampup_step', 1, integer=True)
    if sched['ramp'] not in RAMPS:
        raise ValueError(f'{path}.schedule.ramp must be one of {RAMPS}, got {sched["ramp"]!r}')

    # the rest
    if out['confidence_threshold'] is not None:
        _check_number(out['confidence_threshold'], f'{path}.confidence_threshold', 0.0, 1.0,
                      open_low=True, open_high=True)
    if out['teacher_mode'] not in _TEACHER_MODES:
        raise ValueError(f'{path}.teacher_mode must be one of {_TEACHER_MODES}, '
                         f'got {out["teacher_mode"]!r}')
    if out['teacher_batch_size'] is not None:
        _check_number(out['teacher_batch_size'], f'{path}.teacher_batch_size', 1, integer=True)
    _check_number(out['noise'], f'{path}.noise', 0.0)
    out['noise'] = float(out['noise'])
    return ConfigDict(out)


def _check_strategy_class(cls: type, path: str) -> None:
    from fdpl.pseudo_labels.base import BasePseudoLabeler
    if not issubclass(cls, BasePseudoLabeler):
        raise TypeError(f'{path} is a {cls.__name__}, expected a BasePseudoLabeler subclass')


def _check_strategy_object(obj: Any, path: str) -> None:
    from fdpl.pseudo_labels.base import BasePseudoLabeler
    if not isinstance(obj, BasePseudoLabeler):
        raise TypeError(f'{path} is a {type(obj).__name__}, expected a strategy config or a '
                        'BasePseudoLabeler')


def build_strategies(semi_train_cfg: Mapping) -> 'OrderedDict[str, Any]':
    """Build the strategies of a normalized ``semi_train_cfg``.

    Every strategy whose constructor takes ``shift_range`` gets ``shift``'s
    ``range``, ``axes`` and ``pad``; with ``confidence_threshold`` set,
    every strategy taking that option gets it (a strategy that cannot take
    it is an error). Strategies set to None are left out.

    Returns:
        OrderedDict: ``name -> BasePseudoLabeler``, in config order.
    """
    out: 'OrderedDict[str, Any]' = OrderedDict()
    tau = semi_train_cfg['confidence_threshold']
    for name, scfg in semi_train_cfg['strategies'].items():
        if scfg is None:
            continue
        if not isinstance(scfg, Mapping):  # an already built strategy
            out[name] = scfg
            continue
        path = f'{PATH}.strategies.{name}'
        cls = _strategy_class(scfg, path)
        options = _init_options(cls) or ()
        scfg = copy.deepcopy(dict(scfg))
        if 'shift_range' in options:
            for key, arg in SHIFT_OPTIONS.items():
                value = semi_train_cfg['shift'][key]
                if arg in options:
                    scfg[arg] = copy.deepcopy(value)
                elif value != DEFAULT_SEMI_TRAIN_CFG['shift'][key]:
                    raise ValueError(f'{PATH}.shift.{key}={value!r} cannot reach strategy '
                                     f'{name!r}: {cls.__name__} has no {arg} option')
        if tau is not None:
            if 'confidence_threshold' not in options:
                raise ValueError(f'{PATH}.confidence_threshold={tau} cannot reach strategy '
                                 f'{name!r}: {cls.__name__} has no confidence_threshold option '
                                 f'(set it to None, or configure {path} itself)')
            scfg['confidence_threshold'] = tau
        out[name] = PSEUDO_LABELERS.build(scfg)
    return out


def build_cut(semi_train_cfg: Mapping) -> Any:
    """The CUT object of a normalized ``semi_train_cfg`` (None when off)."""
    cut = semi_train_cfg['cut']
    return PSEUDO_LABELERS.build(copy.deepcopy(dict(cut))) if isinstance(cut, Mapping) else cut


def semi_context_margin(semi_train_cfg: Mapping,
                        crop_size: Sequence[int]) -> Tuple[int, int, int]:
    """``ContextCrop3D.max_shift`` that matches ``semi_train_cfg.shift`` for a crop size."""
    from fdpl.pseudo_labels.functional import context_margin
    shift = semi_train_cfg['shift']
    return context_margin(shift['range'], shift['axes'], crop_size)
