"""The example plugin projects/confidence_pseudo_label: strategy, config, training."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import fdpl  # noqa: F401
from fdpl.registry import HOOKS, MODELS, PSEUDO_LABELERS

REPO = Path(__file__).resolve().parents[2]
PROJECT_CFG = REPO / 'projects' / 'confidence_pseudo_label' / 'configs' / 'fdpl_conf_synthetic.py'
CONF_TINY = REPO / 'tests' / 'data' / 'configs' / 'conf_tiny.py'


pytestmark = pytest.mark.usefixtures('one_thread')


def _probs(p_fg):
    """Two-class probabilities ``(1, 2, 1, 1, N)`` from foreground values."""
    p = torch.tensor(p_fg, dtype=torch.float32).view(1, 1, 1, 1, -1)
    return torch.cat([1 - p, p], dim=1)


def _strategy(**kw):
    import projects.confidence_pseudo_label.confidence_pl  # noqa: F401
    return PSEUDO_LABELERS.build(dict(type='ConfidenceWeightedPseudoLabel', **kw))


def _label(strategy, probs):
    b = probs.shape[0]
    empty = probs[:, None][:, :0]  # (B, 0, K, d, h, w)
    return strategy.label(probs, empty, torch.zeros(b, 0, 3, dtype=torch.long), (0, 0, 0))


def test_soft_and_hard_weights():
    probs = _probs([0.5, 0.75, 0.95, 0.0, 0.2])
    soft = _label(_strategy(), probs)
    assert soft.labels.tolist() == [[[[0, 1, 1, 0, 0]]]]
    assert soft.labels.dtype == torch.int64
    assert soft.weights.dtype == torch.float32
    assert torch.allclose(soft.weights.flatten(), torch.tensor([0.0, 0.5, 0.9, 1.0, 0.6]))
    assert soft.stats['wmean'] == pytest.approx(0.6)
    assert soft.stats['kept'] == pytest.approx(0.8)
    assert torch.equal(soft.probs, probs)

    squared = _label(_strategy(power=2.0, min_weight=0.1), probs)
    assert torch.allclose(squared.weights.flatten(), torch.tensor([0.1, 0.25, 0.81, 1.0, 0.36]))

    hard = _label(_strategy(mode='hard', threshold=0.85), probs)
    assert hard.weights.flatten().tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    assert hard.stats['kept'] == pytest.approx(0.4)
    assert torch.equal(hard.labels, soft.labels)


def test_three_classes_and_windows():
    strategy = _strategy()
    probs = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0]]).t().reshape(1, 3, 1, 1, 2)
    out = _label(strategy, probs)
    assert out.labels.flatten().tolist()[1] == 2
    assert torch.allclose(out.weights.flatten(), torch.tensor([0.0, 1.0]), atol=1e-6)
    # no extra window: the hook only runs the teacher on the fixed crop
    assert strategy.windows(torch.ones(3, 1, 4, 6, 6), (0, 1, 1), (4, 4, 4)).shape == (3, 0, 3)


@pytest.mark.parametrize('kw, match', [
    (dict(mode='sharp'), 'mode'),
    (dict(power=0), 'power'),
    (dict(min_weight=1.0), 'min_weight'),
    (dict(mode='hard', threshold=1.0), 'threshold'),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        _strategy(**kw)


def test_project_config_loads_the_plugin():
    cfg = Config.fromfile(str(PROJECT_CFG))  # runs custom_imports from the repo root
    assert cfg.custom_imports.imports == ['projects.confidence_pseudo_label.confidence_pl']
    hook_cfg = [h for h in cfg.custom_hooks if h['type'] == 'PseudoLabelHook']
    assert hook_cfg == [dict(type='PseudoLabelHook')]  # the settings live on the model
    init_default_scope('fdpl')
    hook = HOOKS.build(hook_cfg[0])
    hook.configure(MODELS.build(cfg.model))
    assert type(hook.strategies['fix']).__name__ == 'ConfidenceWeightedPseudoLabel'
    assert type(hook.strategies['dyn']).__name__ == 'DynamicPseudoLabel'
    assert cfg.model.semi_train_cfg.strategies.fix == dict(
        type='ConfidenceWeightedPseudoLabel', mode='soft', power=1.0)
    # the tiny test config uses the same strategies
    tiny = Config.fromfile(str(CONF_TINY))
    assert tiny.model.semi_train_cfg.strategies == cfg.model.semi_train_cfg.strategies
    assert tiny.custom_imports == cfg.custom_imports


def test_weights_reach_the_loss(tmp_path, monkeypatch):
    monkeypatch.setenv('FDPL_DATA_ROOT', str(tmp_path))
    cfg = Config.fromfile(str(CONF_TINY))
    init_default_scope('fdpl')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batch = next(iter(loader))
    hook = HOOKS.build([h for h in cfg.custom_hooks if h['type'] == 'PseudoLabelHook'][0])
    hook.configure(model)
    hook.generator = torch.Generator().manual_seed(0)
    stats = hook.make_pseudo_labels(model, batch)
    assert 0.0 < stats['fix1_wmean'] <= 1.0 and 0.0 < stats['fix2_wmean'] <= 1.0

    data = model.data_preprocessor(batch, training=True)
    unlabeled = [s for s in data['data_samples'] if 'pseudo_labels' in s]
    assert len(unlabeled) == 2
    for s in unlabeled:
        fields = set(s.pseudo_labels.keys())
        assert {'fix_1', 'fix_2', 'w_fix_1', 'w_fix_2', 'dyn_1', 'dyn_2'} <= fields
        assert not {'w_dyn_1', 'w_dyn_2'} & fields
    model.unsup_weight = 1.0

    @torch.no_grad()
    def losses():
        torch.manual_seed(1)  # same dropout and input noise in every call
        return {k: float(v) for k, v in model(**data, mode='loss').items()}

    weighted = losses()
    for s in unlabeled:
        for i in (1, 2):
            s.pseudo_labels.set_field(torch.ones_like(s.pseudo_labels.get(f'w_fix_{i}')),
                                      f'w_fix_{i}')
    uniform = losses()
    for s in unlabeled:
        for i in (1, 2):
            s.pseudo_labels.set_field(torch.zeros_like(s.pseudo_labels.get(f'w_fix_{i}')),
                                      f'w_fix_{i}')
    zero = losses()
    for i in (1, 2):
        assert weighted[f'loss_fix_{i}'] != pytest.approx(uniform[f'loss_fix_{i}'], rel=1e-6)
        assert zero[f'loss_fix_{i}'] == 0.0
        # the other terms do not see the plugin's weights
        assert weighted[f'loss_dyn_{i}'] == pytest.approx(uniform[f'loss_dyn_{i}'], rel=1e-6)
        assert zero[f'loss_dyn_{i}'] == pytest.approx(uniform[f'loss_dyn_{i}'], rel=1e-6)
        assert zero[f'loss_dyn_{i}'] > 0


def test_train_with_the_plugin(tmp_path):
    """``tools/train.py`` from the repo root, no PYTHONPATH: custom_imports resolves."""
    env = dict(os.environ, FDPL_DATA_ROOT=str(tmp_path / 'data'), OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    work = tmp_path / 'work'
    cmd = [sys.executable, 'tools/train.py', str(CONF_TINY.relative_to(REPO)), '--work-dir',
           str(work), '--cfg-options', 'train_cfg.max_iters=3', 'val_cfg=None',
           'val_dataloader=None', 'val_evaluator=None']
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (work / 'iter_3.pth').is_file()
    scalars = list(work.glob('*/vis_data/scalars.json'))
    assert len(scalars) == 1
    rows = [json.loads(line) for line in scalars[0].read_text().splitlines() if line.strip()]
    train_rows = [r for r in rows if 'loss' in r]
    assert len(train_rows) == 3
    for row in train_rows:
        for i in (1, 2):
            assert 0.0 < row[f'pl_fix{i}_wmean'] <= 1.0
            assert 0.0 <= row[f'pl_fix{i}_kept'] <= 1.0
            assert row[f'loss_fix_{i}'] > 0.0
