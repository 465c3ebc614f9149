"""Private path templates of per-case files, ``{}`` standing for the case id.

A template is a path relative to a data folder, e.g.
``'imagesTr/{}_0000.nii.gz'`` or ``'{}/{}_flair.nii.gz'`` (one folder per
case: every ``{}`` is the same id). The NIfTI dataset and the NIfTI folder
converter both list cases and name their files with these functions.
"""
import glob
import os
import os.path as osp
import re
from typing import Dict


def path_template(folder: str, stem_suffix: str, suffix: str) -> str:
    """Template ``<folder>/{}<stem_suffix><suffix>`` (no folder part when ``folder`` is empty)."""
    name = '{}' + stem_suffix + suffix
    return osp.join(folder, name) if folder else name


def fill_template(template: str, case_id: str) -> str:
    """The path of one case: every ``{}`` of ``template`` replaced by ``case_id``."""
    return template.format(*[case_id] * template.count('{}'))


def template_regex(template: str) -> 're.Pattern':
    """Regex that matches a relative path of ``template`` and captures the id (``{}``)."""
    parts = template.split('{}')
    pattern = re.escape(parts[0]) + r'(?P<id>[^/]+?)'
    for part in parts[1:-1]:
        pattern += re.escape(part) + '(?P=id)'
    return re.compile(pattern + re.escape(parts[-1]) + '$')


def ids_matching(root: str, template: str) -> Dict[str, str]:
    """Ids of the files under ``root`` that match ``template``.

    Names starting with ``.`` (hidden or partial files) are skipped.

    Args:
        root (str): Data folder.
        template (str): Path template relative to ``root``.

    Returns:
        dict[str, str]: Case id -> path relative to ``root`` (``/``
        separators).
    """
    regex = template_regex(template)
    pattern = osp.join(glob.escape(root), template.replace('{}', '*'))
    found = {}
    for path in glob.glob(pattern):
        rel = osp.relpath(path, root).replace(os.sep, '/')
        m = regex.match(rel)
        if m and not m.group('id').startswith('.'):
            found[m.group('id')] = rel
    return found
