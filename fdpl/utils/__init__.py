from .config_check import check_config
from .curves import plot_work_dir_curves

__all__ = ['check_config', 'plot_work_dir_curves']
