"""Training curves from mmengine's scalar log."""
import json
from pathlib import Path
from typing import Dict, List, Tuple, Union


def plot_training_curves(scalars_json_path: Union[str, Path], out_png: Union[str, Path]) -> str:
    """Plot losses against iterations, and validation Dice when logged.

    mmengine's ``LocalVisBackend`` writes ``vis_data/scalars.json`` with one
    JSON object per line: training lines carry ``step`` (the iteration),
    ``lr`` and every loss term (keys containing ``loss``); validation lines
    carry the metrics (``dice``, ``dice_lcc``, possibly prefixed as
    ``val/dice``) and the ``step`` at which they were computed.

    Args:
        scalars_json_path (str | Path): Path of ``scalars.json``.
        out_png (str | Path): Output image; parent folders are created.

    Returns:
        str: ``out_png``.
    """
    # Agg canvas on a bare Figure: no pyplot state, the global backend is untouched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    losses, dices = _read_scalars(Path(scalars_json_path))
    if not losses and not dices:
        raise ValueError(f'plot_training_curves: {scalars_json_path} holds no loss or dice '
                         'values')
    panels = int(bool(losses)) + int(bool(dices))
    fig = Figure(figsize=(6 * panels, 4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)
    axes = list(axes[0])
    if losses:
        ax = axes.pop(0)
        for key, (steps, values) in sorted(losses.items()):
            ax.plot(steps, values, label=key, linewidth=1.)
        ax.set_xlabel('iteration')
        ax.set_ylabel('loss')
        ax.set_title('training losses')
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if dices:
        ax = axes.pop(0)
        for key, (steps, values) in sorted(dices.items()):
            ax.plot(steps, values, marker='o', label=key, linewidth=1.)
        ax.set_xlabel('iteration')
        ax.set_ylabel('Dice (%)')
        ax.set_title('validation')
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=100)
    return str(out_png)


Series = Dict[str, Tuple[List[float], List[float]]]


def _read_scalars(path: Path) -> Tuple[Series, Series]:
    """Loss series and validation-Dice series keyed by scalar name."""
    if not path.is_file():
        raise FileNotFoundError(f'plot_training_curves: no scalars file at {path}')
    losses: Series = {}
    dices: Series = {}
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'plot_training_curves: {path} line {number} is not JSON: '
                                 f'{err}') from err
            step = record.get('step', record.get('iter'))
            if step is None:
                continue
            for key, value in record.items():
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                name = key.rsplit('/', 1)[-1]
                if 'loss' in name:
                    target = losses
                elif name.startswith('dice') and not name.endswith('_std'):
                    target = dices
                else:
                    continue
                steps, values = target.setdefault(key, ([], []))
                steps.append(float(step))
                values.append(float(value))
    return losses, dices
