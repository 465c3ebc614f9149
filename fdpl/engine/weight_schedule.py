"""Schedule of the pseudo-label loss weight: warm-up, then ramp-up."""
import math

RAMPS = ('sigmoid', 'linear', 'constant')


def unsup_weight(iteration: int, weight_max: float = 1.0, warmup_iters: int = 0,
                 rampup_iters: int = 6000, rampup_step: int = 150,
                 ramp: str = 'sigmoid') -> float:
    """Weight of the unsupervised terms at an iteration.

    ``0`` during the supervised warm-up (``iteration < warmup_iters``); then,
    with ``t`` the iterations since the warm-up rounded down to a multiple
    of ``rampup_step`` (the field counts ``iter // 150``):

    * 'sigmoid': ``w_max * exp(-5 (1 - min(t / T, 1))^2)`` with
      ``T = rampup_iters`` (UA-MT's ramp; ``T = 6000``, step 150 gives its
      ``t = iter // 150``, length 40);
    * 'linear': ``w_max * min(t / T, 1)``;
    * 'constant': ``w_max``.

    Args:
        iteration (int): Finished iterations (0-based current iteration).
        weight_max (float): Final weight. Defaults to 1.0.
        warmup_iters (int): Supervised-only iterations. Defaults to 0.
        rampup_iters (int): Length T of the ramp. Defaults to 6000.
        rampup_step (int): Quantisation of t. Defaults to 150.
        ramp (str): One of :data:`RAMPS`. Defaults to 'sigmoid'.

    Returns:
        float: The weight.

    Examples:
        >>> unsup_weight(6000)
        1.0
        >>> round(unsup_weight(0), 5)
        0.00674
        >>> unsup_weight(10, warmup_iters=100)
        0.0
    """
    if ramp not in RAMPS:
        raise ValueError(f'ramp must be one of {RAMPS}, got {ramp!r}')
    if iteration < warmup_iters:
        return 0.0
    if ramp == 'constant' or rampup_iters <= 0:
        return float(weight_max)
    t = iteration - warmup_iters
    if rampup_step > 1:
        t = (t // rampup_step) * rampup_step
    phase = min(t / rampup_iters, 1.0)
    if ramp == 'linear':
        return float(weight_max * phase)
    return float(weight_max * math.exp(-5.0 * (1.0 - phase) ** 2))
