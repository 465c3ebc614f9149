"""fdpl.provenance.model_zoo: the model-zoo page built from entries."""
import json
from pathlib import Path

import pytest

from fdpl.provenance.model_zoo import format_model_zoo, load_zoo_entries

REPO = Path(__file__).resolve().parents[2]


def test_model_zoo_page_is_generated_from_entries(tmp_path):
    assert 'No model has been published yet.' in format_model_zoo([])
    entries = tmp_path / 'entries'
    entries.mkdir()
    for name, dice in (('b_model', 80.0), ('a_model', 70.5)):
        (entries / f'{name}.json').write_text(json.dumps(dict(
            name=name, file=f'model_zoo/{name}_0123abcd.pth', sha256='0123abcd' * 8,
            size=2048, config='configs/x.py', dataset='LADataset', split='s.json',
            split_sha256='f' * 64, labeled_num=8, iter=600, git_commit='c' * 40,
            git_dirty=False, validation=dict(iter=600, metrics=dict(dice=dice)),
            test_metrics=dict(dice=dict(mean=dice, std=1.0)))))
    text = format_model_zoo(load_zoo_entries(str(entries)))
    rows = [line for line in text.splitlines() if line.startswith('| a_model') or
            line.startswith('| b_model')]
    assert [r.split(' |')[0] for r in rows] == ['| a_model', '| b_model'] * 2
    assert '70.50 ± 1.00' in text and '70.50 (600)' in text and '2.0 KiB' in text
    (entries / 'bad.json').write_text('[1]')
    with pytest.raises(ValueError, match='bad.json'):
        load_zoo_entries(str(entries))


def test_checked_in_model_zoo_page_is_up_to_date():
    page = REPO / 'docs' / 'model_zoo.md'
    entries = load_zoo_entries(str(REPO / 'docs' / 'model_zoo'))
    assert page.read_text() == format_model_zoo(entries), \
        'run: python tools/publish_model.py --regen-docs'
