"""Write split files (labeled / unlabeled / val / test case ids) for one or more labeled counts.

From list files (the field's layout)::

    python tools/make_splits.py --data-root data/LA --list train.list --test-list test.list \
        --num-val 16 --labeled 4 8 16 --seeds 0 1 2 --dataset LA \
        --out-dir configs/_base_/splits/la

From a manifest (``tools/convert_nifti_folder.py``)::

    python tools/make_splits.py --manifest data/my/manifest.json --num-val 4 --num-test 6 \
        --labeled 4 --seeds 0 1 --dataset MyData --out-dir data/my/splits

For every count ``N`` of ``--labeled`` it writes the canonical split
``<dataset lower>_labeled<N>_canonical.json`` (first ``N`` labeled, last
``--num-val`` training ids for validation) and, for every seed ``k`` of
``--seeds``, a random split ``<dataset lower>_labeled<N>_seed<k>.json``
(validation and test unchanged unless ``--shuffle-val``). See
``fdpl.datasets.splits`` and docs/data.md.

With a manifest, only cases with a label can be labeled, val or test: in
manifest order, the test ids are the LAST ``--num-test`` cases with a label,
the validation ids the ``--num-val`` before them, and the rest of those cases
form the training list; cases whose label is null are always unlabeled.
"""
import argparse
import os.path as osp
import sys
from collections import Counter
from typing import List, Optional, Sequence, Tuple

from fdpl.datasets._json_records import read_json_record
from fdpl.datasets.converters import MANIFEST_FORMAT
from fdpl.datasets.splits import (dumps_split, file_sha256, make_split, split_file_name,
                                  write_split)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--list', help='training list file (one id per line, in order), relative '
                     'to --data-root when given')
    src.add_argument('--manifest', help='manifest.json written by tools/convert_nifti_folder.py')
    parser.add_argument('--data-root', default=None, help='folder of the list files')
    parser.add_argument('--test-list', default=None, help='test list file (with --list)')
    parser.add_argument('--num-val', type=int, default=0,
                        help='validation ids held out at the end of the training list')
    parser.add_argument('--num-test', type=int, default=0,
                        help='test ids taken from the end of the labeled cases (with --manifest)')
    parser.add_argument('--labeled', type=int, nargs='+', required=True,
                        help='labeled counts, one split (family) per count, e.g. 4 8 16')
    parser.add_argument('--seeds', type=int, nargs='*', default=[],
                        help='split seeds: a random split per seed and count, in addition to the '
                        'canonical one')
    parser.add_argument('--shuffle-val', action='store_true',
                        help='random splits draw the validation ids too (default: fixed)')
    parser.add_argument('--dataset', required=True, help='dataset name, e.g. LA')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--force', action='store_true',
                        help='overwrite an existing file whose content differs')
    return parser.parse_args(argv)


def read_list(path: str, option: str) -> List[str]:
    """Ids of a list file: one per line, blank lines and ``#`` comments skipped."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{option}: list file {path!r} does not exist.')
    with open(path, encoding='utf-8') as f:
        ids = [line.strip() for line in f]
    ids = [i for i in ids if i and not i.startswith('#')]
    dups = sorted(k for k, v in Counter(ids).items() if v > 1)
    if dups:
        raise ValueError(f'{option}: list file {path!r} holds duplicate ids: {dups[:10]}')
    return ids


def read_manifest_ids(path: str) -> Tuple[List[str], List[str]]:
    """Case ids of a manifest, in manifest order.

    Returns:
        tuple[list[str], list[str]]: Ids of the cases with a label and of
        those whose label is null.
    """
    try:
        manifest = read_json_record(path, 'manifest', MANIFEST_FORMAT,
                                    'tools/convert_nifti_folder.py')
    except (FileNotFoundError, ValueError) as e:
        raise type(e)(f'--manifest: {e}') from e
    cases = manifest.get('cases')
    if not isinstance(cases, list) or not cases:
        raise ValueError(f'--manifest: {path!r} has no "cases" list (or it is empty).')
    labeled, unlabeled = [], []
    for k, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get('id'), str) or not case['id']:
            raise ValueError(f'--manifest: case #{k} of {path!r} has no str "id".')
        if 'label' not in case:
            raise ValueError(f'--manifest: case {case["id"]!r} of {path!r} has no "label" key '
                             '(a path or null).')
        (unlabeled if case['label'] is None else labeled).append(case['id'])
    dups = sorted(k for k, v in Counter(labeled + unlabeled).items() if v > 1)
    if dups:
        raise ValueError(f'--manifest: {path!r} lists these case ids more than once: {dups[:10]}')
    return labeled, unlabeled


def _inputs(args: argparse.Namespace) -> dict:
    """Training / test / label-less ids and the source record, from lists or a manifest."""
    for name in ('num_val', 'num_test'):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got "
                             f'{getattr(args, name)}.')
    if args.manifest is not None:
        if args.test_list is not None or args.data_root is not None:
            raise ValueError('--test-list and --data-root go with --list, not --manifest.')
        with_label, without = read_manifest_ids(args.manifest)
        held = args.num_val + args.num_test
        if held >= len(with_label):
            raise ValueError(f'--num-val {args.num_val} + --num-test {args.num_test} leave no '
                             f'labeled training case: the manifest {args.manifest!r} has '
                             f'{len(with_label)} cases with a label.')
        cut = len(with_label) - args.num_test
        return dict(train=with_label[:cut], test=with_label[cut:], no_label=without,
                    source=dict(list=None, test_list=None, manifest=args.manifest,
                                manifest_sha256=file_sha256(args.manifest)),
                    what=f'the manifest {args.manifest!r} ({len(with_label)} cases with a label, '
                    f'{len(without)} without)')
    if args.num_test:
        raise ValueError('--num-test goes with --manifest; with --list give --test-list.')
    root = args.data_root or ''
    train = read_list(osp.join(root, args.list), '--list')
    test = read_list(osp.join(root, args.test_list), '--test-list') if args.test_list else []
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise ValueError(f'--list {args.list!r} and --test-list {args.test_list!r} share ids: '
                         f'{overlap[:10]}')
    return dict(train=train, test=test, no_label=[],
                source=dict(list=args.list, test_list=args.test_list, manifest=None,
                            manifest_sha256=None),
                what=f'the list {args.list!r} ({len(train)} ids)')


def make_all(args: argparse.Namespace) -> List[Tuple[str, dict, str]]:
    """Build every requested split.

    Returns:
        list[tuple[str, dict, str]]: ``(path, split, status)`` per file, status
        ``'wrote'`` or ``'unchanged'``.
    """
    src = _inputs(args)
    pool = len(src['train']) - args.num_val
    if pool < 1:
        raise ValueError(f'--num-val {args.num_val} leaves no training id in {src["what"]}.')
    for n in args.labeled:
        if n < 1 or n > pool:
            raise ValueError(f'--labeled {n}: {src["what"]} has {pool} training cases with a '
                             f'label once the validation ids (--num-val {args.num_val}) are held '
                             'out; ask for 1 to that many labeled cases.')
    if len(set(args.seeds)) != len(args.seeds) or any(k < 0 for k in args.seeds):
        raise ValueError(f'--seeds must be distinct ints >= 0, got {args.seeds}.')
    common = dict(num_val=args.num_val, test_ids=src['test'], unlabeled_ids=src['no_label'],
                  dataset=args.dataset, source=src['source'])
    todo = []
    for n in dict.fromkeys(args.labeled):
        todo.append((split_file_name(args.dataset, n),
                     make_split('canonical', src['train'], n, **common)))
        for k in args.seeds:
            todo.append((split_file_name(args.dataset, n, k),
                         make_split('random', src['train'], n, seed=k,
                                    shuffle_val=args.shuffle_val, **common)))
    done = []
    for name, split in todo:
        path = osp.join(args.out_dir, name)
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                if f.read() == dumps_split(split):
                    done.append((path, split, 'unchanged'))
                    continue
            if not args.force:
                raise FileExistsError(f'{path!r} exists with other content; pass --force to '
                                      'overwrite it.')
        write_split(path, split)
        done.append((path, split, 'wrote'))
    return done


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; prints one line per file."""
    args = parse_args(argv)
    try:
        done = make_all(args)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f'make_splits: error: {e}', file=sys.stderr)
        return 2
    for path, split, status in done:
        seed = '' if split['seed'] is None else f" seed {split['seed']}"
        print(f"{status} {path}: {split['strategy']}{seed}, {len(split['labeled'])} labeled, "
              f"{len(split['unlabeled'])} unlabeled, {len(split['val'])} val, "
              f"{len(split['test'])} test")
    return 0


if __name__ == '__main__':
    sys.exit(main())
