"""Publish a checkpoint: ``python tools/publish_model.py CHECKPOINT --name NAME [options]``.

Keeps only the weights and the provenance (``state_dict`` and ``meta``;
optimizer, scheduler, message-hub, random-state and hook states are
dropped), writes ``<out-dir>/<name>_<sha256[:8]>.pth``, the entry
``<entries-dir>/<name>.json`` and regenerates ``docs/model_zoo.md`` from all
entries. ``--regen-docs`` alone only regenerates the page.

The published file loads with ``torch.load(weights_only=True)`` and tests
with ``tools/test.py CONFIG FILE``.
"""
import argparse
import hashlib
import io
import json
import os
import os.path as osp
import sys
from typing import Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
KEEP = ('meta', 'state_dict')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Publish an fdpl checkpoint to the model zoo')
    parser.add_argument('checkpoint', nargs='?', help='training checkpoint (.pth)')
    parser.add_argument('--name', help='model name: letters, digits, "_", ".", "-"')
    parser.add_argument('--metrics', help='metrics.json of tools/test.py for this checkpoint')
    parser.add_argument('--out-dir', default='model_zoo', help='folder of published files')
    parser.add_argument('--entries-dir', default=osp.join(ROOT, 'docs', 'model_zoo'),
                        help='folder of model-zoo entries (one JSON per model)')
    parser.add_argument('--docs', default=osp.join(ROOT, 'docs', 'model_zoo.md'),
                        help='Markdown page regenerated from the entries')
    parser.add_argument('--regen-docs', action='store_true',
                        help='only regenerate the page from the entries')
    parser.add_argument('--force', action='store_true',
                        help='replace an existing entry of the same name')
    args = parser.parse_args(argv)
    if not args.regen_docs and (not args.checkpoint or not args.name):
        parser.error('CHECKPOINT and --name are required unless --regen-docs is given')
    return args


def regen_docs(entries_dir: str, docs: str) -> str:
    """Rewrite the Markdown page from the entries; returns its path."""
    from fdpl.provenance.model_zoo import format_model_zoo, load_zoo_entries
    text = format_model_zoo(load_zoo_entries(entries_dir))
    os.makedirs(osp.dirname(osp.abspath(docs)), exist_ok=True)
    with open(docs, 'w', encoding='utf-8') as f:
        f.write(text)
    return docs


def read_test_metrics(path: str, sha256s: tuple) -> dict:
    """``summary`` of a ``metrics.json``; warns if its ``env.json`` names another checkpoint."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'--metrics file {path!r} does not exist')
    with open(path, encoding='utf-8') as f:
        metrics = json.load(f)
    if not isinstance(metrics, dict) or not isinstance(metrics.get('summary'), dict):
        raise ValueError(f'--metrics file {path!r}: expected a metrics.json of tools/test.py '
                         '(an object with "summary")')
    env_path = osp.join(osp.dirname(path), 'env.json')
    if osp.isfile(env_path):
        with open(env_path, encoding='utf-8') as f:
            tested = (json.load(f).get('checkpoint') or {}).get('sha256')
        if tested and tested not in sha256s:
            print(f'warning: {env_path} says these metrics were measured on a checkpoint with '
                  f'sha256 {tested[:12]}, not on the one published', file=sys.stderr)
    return metrics['summary']


def publish(args: argparse.Namespace) -> dict:
    """Write the published file and its entry; returns the entry."""
    import torch

    from fdpl.engine.checkpoint import encode_checkpoint, load_checkpoint_safe
    from fdpl.provenance.model_zoo import check_model_name, make_zoo_entry
    from fdpl.provenance.run_record import file_sha256, write_env_json
    name = check_model_name(args.name)
    entry_path = osp.join(args.entries_dir, f'{name}.json')
    if osp.exists(entry_path) and not args.force:
        raise ValueError(f'model-zoo entry {entry_path!r} exists; choose another --name or '
                         'pass --force to replace it')
    checkpoint = load_checkpoint_safe(args.checkpoint)
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get('state_dict'), dict):
        raise ValueError(f'checkpoint {args.checkpoint!r} has no "state_dict"; expected a '
                         'checkpoint written by tools/train.py')
    source_sha = file_sha256(args.checkpoint)
    stripped = encode_checkpoint({k: checkpoint[k] for k in KEEP if k in checkpoint})
    stripped.setdefault('meta', {})
    buffer = io.BytesIO()
    torch.save(stripped, buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    test_metrics = read_test_metrics(args.metrics, (source_sha, sha256)) if args.metrics \
        else None
    os.makedirs(args.out_dir, exist_ok=True)
    out_file = osp.join(args.out_dir, f'{name}_{sha256[:8]}.pth')
    tmp = f'{out_file}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, out_file)
    torch.load(out_file, map_location='cpu', weights_only=True)  # fail here, not for users
    entry = make_zoo_entry(name, out_file, sha256, len(data), stripped['meta'],
                           test_metrics=test_metrics, source_checkpoint=args.checkpoint,
                           root=ROOT)
    write_env_json(entry_path, entry)
    return entry


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    if not args.regen_docs:
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'Checkpoint file {args.checkpoint!r} does not exist')
        entry = publish(args)
        print(f'published: {entry["file"]} (sha256 {entry["sha256"]}, {entry["size"]} bytes)')
        print(f'entry: {osp.join(args.entries_dir, entry["name"] + ".json")}')
    print(f'model zoo page: {regen_docs(args.entries_dir, args.docs)}')


if __name__ == '__main__':
    main()
