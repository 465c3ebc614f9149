from .config_check import check_config
from .curves import plot_work_dir_curves
from .run_record import collect_env, file_sha256, write_env_json
from .setup_env import add_cwd_to_path, setup_cpu_distributed

__all__ = [
    'check_config', 'plot_work_dir_curves', 'add_cwd_to_path', 'setup_cpu_distributed',
    'collect_env', 'write_env_json', 'file_sha256'
]
