from .config_check import check_cfg_options, check_config, derive_context_margin
from .curves import plot_work_dir_curves
from .setup_env import add_cwd_to_path, setup_cpu_distributed

__all__ = [
    'check_config', 'check_cfg_options', 'derive_context_margin', 'plot_work_dir_curves',
    'add_cwd_to_path', 'setup_cpu_distributed'
]
