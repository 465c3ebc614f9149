"""tools/summarize_runs.py --sup --method --full: a gap-closed table from seeds tables."""
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _main():
    spec = importlib.util.spec_from_file_location('fdpl_tools_summarize_runs',
                                                  REPO / 'tools' / 'summarize_runs.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _seeds_dir(root: Path, name: str, dices, table='seeds_table_val.json', **columns) -> Path:
    folder = root / name
    folder.mkdir()
    rows = [dict(seed=s, dice=d) for s, d in enumerate(dices)]
    for key, values in columns.items():
        for r, v in zip(rows, values):
            r[key.replace('__', '/')] = v
    (folder / table).write_text(json.dumps(dict(split='val', rows=rows, summary={})))
    return folder


def test_gap_closed_from_run_seeds_dirs(tmp_path, capsys):
    sup = _seeds_dir(tmp_path, 'sup', [60.0, 64.0])
    fdpl = _seeds_dir(tmp_path, 'fdpl', [70.0, 79.0], mean__dice=[75.0, 74.0])
    full = _seeds_dir(tmp_path, 'full', [80.0, 84.0])
    out = tmp_path / 'summary'
    main = _main()
    main(['--sup', str(sup), '--method', f'FDPL={fdpl}', '--full', str(full), '--split', 'val',
          '--out', str(out)])
    text = capsys.readouterr().out
    assert '| FDPL | 0 | 60.00 | 70.00 | 80.00 | 50.00 |' in text
    assert '| FDPL | 1 | 64.00 | 79.00 | 84.00 | 75.00 |' in text
    assert '| **FDPL** | **mean** |' in text and '**62.50** |' in text  # (74.5-62)/(82-62)
    table = json.loads((out / 'gap_closed.json').read_text())
    assert table['split'] == 'val' and table['summary'][0]['gap_closed'] == pytest.approx(62.5)
    assert (out / 'gap_closed.csv').is_file() and (out / 'gap_closed.md').is_file()

    # a second method given by its JSON file, the mean predictor's column of the methods
    main(['--sup', str(sup), '--method', f'FDPL={fdpl}', '--method',
          str(fdpl / 'seeds_table_val.json'), '--full', str(full), '--split', 'val',
          '--predictor', 'mean'])
    text = capsys.readouterr().out
    assert 'mean of SN1 and SN2' in text and '| seeds_table_val.json | 0 |' in text
    assert '| FDPL | 0 | 60.00 | 75.00 | 80.00 | 75.00 |' in text


def test_missing_table_and_incomplete_arguments(tmp_path):
    sup = _seeds_dir(tmp_path, 'sup', [60.0])
    main = _main()
    with pytest.raises(FileNotFoundError, match=r'seeds_table\.json does not exist.*'
                                                r'seeds_table_val\.json'):
        main(['--sup', str(sup), '--method', str(sup), '--full', str(sup)])
    with pytest.raises(SystemExit):
        main(['--sup', str(sup), '--full', str(sup)])
    with pytest.raises(SystemExit):
        main(['--runs', f'a={sup}', '--sup', str(sup)])
