"""Provenance of fdpl runs and results.

* :mod:`.run_record`: what produced a run (code, environment, seed, config
  and data) as one JSON record, ``env.json``;
* :mod:`.model_zoo`: model-zoo entries of published checkpoints and the
  page built from them;
* :mod:`.reproduce`: documented result rows and the comparison of a re-run
  with them.
"""
from .model_zoo import format_model_zoo, load_zoo_entries, make_zoo_entry
from .reproduce import compare_to_documented, load_results_rows
from .run_record import collect_env, file_sha256, write_env_json

__all__ = [
    'collect_env', 'write_env_json', 'file_sha256', 'make_zoo_entry', 'load_zoo_entries',
    'format_model_zoo', 'load_results_rows', 'compare_to_documented'
]
