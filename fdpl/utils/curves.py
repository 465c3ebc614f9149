"""Training curves of a finished run."""
import glob
import os.path as osp
from typing import Optional


def plot_work_dir_curves(log_dir: str) -> Optional[str]:
    """Plot ``vis_data/scalars.json`` of a run to ``curves.png`` next to it.

    Args:
        log_dir (str): The runner's timestamped log folder.

    Returns:
        str or None: Path of the PNG, or None when the run logged nothing.
    """
    from fdpl.visualization import plot_training_curves
    found = glob.glob(osp.join(log_dir, 'vis_data', 'scalars.json'))
    if not found:
        return None
    out = osp.join(log_dir, 'curves.png')
    plot_training_curves(found[0], out)
    return out
