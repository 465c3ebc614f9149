import math

import pytest
import torch
import torch.nn.functional as F

import fdpl.models.losses  # noqa: F401  (registers the losses)
from fdpl.models.losses import CEDiceLoss, dice_loss, weighted_cross_entropy
from fdpl.registry import MODELS

LN3 = math.log(3.0)
SMOOTH = 1e-5


def _hand_example():
    """A (1, 2, 2, 2, 2) batch with known foreground probabilities.

    Voxels in flattened order: 0-1 foreground with p_fg = 3/4, 2-3
    foreground with p_fg = 1/2, 4-6 background with p_fg = 1/4, 7
    background with p_fg = 1/2.
    """
    pairs = [(0, LN3)] * 2 + [(0, 0)] * 2 + [(LN3, 0)] * 3 + [(0, 0)]
    logits = torch.tensor(pairs, dtype=torch.float64).t().reshape(1, 2, 2, 2, 2)
    target = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0]).reshape(1, 2, 2, 2)
    return logits, target


def test_hand_computed_ce_and_dice():
    logits, target = _hand_example()
    p_fg = torch.softmax(logits, 1)[:, 1].flatten()
    assert torch.allclose(p_fg, torch.tensor([.75, .75, .5, .5, .25, .25, .25, .5],
                                             dtype=torch.float64))
    # CE: five voxels with p(true) = 3/4, three with p(true) = 1/2
    ce = (5 * math.log(4 / 3) + 3 * math.log(2)) / 8
    # Dice: sum p*g = 2*.75 + 2*.5 = 2.5; sum p^2 = 2*.5625 + 2*.25 + 3*.0625 + .25
    # = 2.0625; sum g^2 = 4
    dice = 1 - (2 * 2.5 + SMOOTH) / (2.0625 + 4 + SMOOTH)
    assert weighted_cross_entropy(logits, target).item() == pytest.approx(ce, abs=1e-12)
    assert dice_loss(torch.softmax(logits, 1)[:, 1], target).item() == pytest.approx(
        dice, abs=1e-12)
    loss = CEDiceLoss()(logits, target)
    assert loss.item() == pytest.approx(0.5 * ce + 0.5 * dice, abs=1e-12)
    loss = CEDiceLoss(alpha=0.25, loss_weight=2.0)(logits, target)
    assert loss.item() == pytest.approx(2.0 * (0.25 * ce + 0.75 * dice), abs=1e-12)


def test_hand_computed_weighted():
    logits, target = _hand_example()
    weight = torch.tensor([1, 1, 0, 0, 1, 1, 1, 0], dtype=torch.float64).reshape(1, 2, 2, 2)
    # kept: two fg voxels with p_fg = 3/4 and three bg voxels with p_fg = 1/4
    ce = math.log(4 / 3)
    dice = 1 - (2 * 1.5 + SMOOTH) / (2 * .5625 + 3 * .0625 + 2 + SMOOTH)
    loss = CEDiceLoss()(logits, target, weight)
    assert loss.item() == pytest.approx(0.5 * ce + 0.5 * dice, abs=1e-12)


def test_masked_voxels_do_not_matter():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 4, 4, 4)
    target = torch.randint(0, 2, (2, 4, 4, 4))
    weight = (torch.rand(2, 4, 4, 4) > 0.5).float()
    loss_fn = CEDiceLoss()
    ref = loss_fn(logits, target, weight)
    masked = weight == 0
    logits2 = logits.clone()
    logits2[masked.unsqueeze(1).expand_as(logits)] = 50.0 * torch.randn(int(masked.sum()) * 2)
    target2 = torch.where(masked, 1 - target, target)
    assert torch.allclose(loss_fn(logits2, target2, weight), ref)
    # equal to the loss on the kept voxels alone (as a (N, K, n) batch)
    keep = ~masked
    sub_logits = logits.permute(0, 2, 3, 4, 1)[keep].t().unsqueeze(0)  # (1, 2, n)
    sub_target = target[keep].unsqueeze(0)
    ce = F.cross_entropy(sub_logits, sub_target)
    dice = dice_loss(torch.softmax(sub_logits, 1)[:, 1], sub_target)
    assert torch.allclose(ref, 0.5 * ce + 0.5 * dice)


def test_fractional_weights_ce():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 2, 2, 2)
    target = torch.randint(0, 3, (1, 2, 2, 2))
    weight = torch.rand(1, 2, 2, 2)
    ce = F.cross_entropy(logits, target, reduction='none')
    expected = (ce * weight).sum() / weight.sum()
    assert torch.allclose(weighted_cross_entropy(logits, target, weight), expected)


def test_fully_masked_batch_is_zero_with_live_graph():
    logits = torch.randn(2, 2, 4, 4, 4, requires_grad=True)
    target = torch.randint(0, 2, (2, 4, 4, 4))
    loss = CEDiceLoss()(logits, target, torch.zeros(2, 4, 4, 4))
    assert loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0
    assert weighted_cross_entropy(logits, target, torch.zeros(2, 4, 4, 4)).item() == 0.0


def test_perfect_prediction_gives_zero():
    torch.manual_seed(0)
    target = torch.randint(0, 2, (2, 8, 8, 8))
    logits = 30.0 * (2 * F.one_hot(target, 2).permute(0, 4, 1, 2, 3).float() - 1)
    assert dice_loss(torch.softmax(logits, 1)[:, 1], target).item() == pytest.approx(0, abs=1e-6)
    assert CEDiceLoss()(logits, target).item() == pytest.approx(0, abs=1e-6)
    # and the worst prediction gives a Dice close to 1
    assert dice_loss(torch.softmax(-logits, 1)[:, 1], target).item() == pytest.approx(1, abs=1e-6)


def test_alpha_one_is_torch_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4, 4))
    loss = CEDiceLoss(alpha=1.0, num_classes=3)(logits, target)
    assert torch.allclose(loss, F.cross_entropy(logits, target))


def test_multiclass_dice_is_mean_over_foreground():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4, 4))
    probs = torch.softmax(logits, 1)
    per_class = []
    for k in (1, 2):
        p, g = probs[:, k], (target == k).float()
        per_class.append(1 - (2 * (p * g).sum() + SMOOTH) / ((p * p).sum() + g.sum() + SMOOTH))
    loss = CEDiceLoss(alpha=0.0, num_classes=3)(logits, target)
    assert torch.allclose(loss, (per_class[0] + per_class[1]) / 2)


def test_binary_dice_uses_foreground_only():
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 4, 4, 4)
    target = torch.randint(0, 2, (1, 4, 4, 4))
    loss = CEDiceLoss(alpha=0.0)(logits, target)
    assert torch.allclose(loss, dice_loss(torch.softmax(logits, 1)[:, 1], target))


def test_ignore_index_equals_zero_weight():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 4, 4, 4)
    target = torch.randint(0, 2, (2, 4, 4, 4))
    ignored = torch.rand(2, 4, 4, 4) > 0.7
    ref = CEDiceLoss()(logits, target, (~ignored).float())
    out = CEDiceLoss(ignore_index=255)(logits, target.masked_fill(ignored, 255))
    assert torch.allclose(out, ref)
    with pytest.raises(ValueError, match=r'\[0, 2\)'):
        CEDiceLoss()(logits, target.masked_fill(ignored, 255))


def test_build_from_registry():
    loss = MODELS.build(dict(type='CEDiceLoss', alpha=0.3, num_classes=3))
    assert isinstance(loss, CEDiceLoss) and loss.alpha == 0.3
    assert loss.loss_name == 'loss_ce_dice'


def test_invalid_inputs():
    loss = CEDiceLoss()
    logits = torch.randn(2, 2, 4, 4, 4)
    target = torch.randint(0, 2, (2, 4, 4, 4))
    with pytest.raises(ValueError, match=r'\(2, 4, 4, 3\).*\(2, 2, 4, 4, 4\)'):
        loss(logits, torch.zeros(2, 4, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match='K=2'):
        loss(torch.randn(2, 3, 4, 4, 4), target)
    with pytest.raises(ValueError, match='max 2'):
        loss(logits, target.clone().fill_(2))
    with pytest.raises(ValueError, match='min -1'):
        loss(logits, target.clone().fill_(-1))
    with pytest.raises(ValueError, match='integer'):
        loss(logits, target.float())
    with pytest.raises(ValueError, match='weight has shape'):
        loss(logits, target, torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match='alpha'):
        CEDiceLoss(alpha=1.5)
    with pytest.raises(ValueError, match='num_classes'):
        CEDiceLoss(num_classes=1)
    with pytest.raises(ValueError, match='dice_loss'):
        dice_loss(torch.rand(2, 3), torch.ones(3, 2))
    with pytest.raises(ValueError, match='weighted_cross_entropy'):
        weighted_cross_entropy(logits, torch.zeros(2, 4, 4, dtype=torch.long))


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_logits_are_summed_in_float32(dtype):
    """Logits from autocast: over a 32 x 64 x 64 crop a float16 voxel sum would overflow
    (65504) and a bfloat16 one would keep 3 digits; the loss upcasts them first."""
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 32, 64, 64)
    target = (torch.rand(2, 32, 64, 64) > 0.7).long()
    loss = CEDiceLoss(num_classes=2)
    half = loss(logits.to(dtype), target)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    assert half.item() == pytest.approx(loss(logits.to(dtype).float(), target).item(), abs=1e-6)
