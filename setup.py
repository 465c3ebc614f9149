"""Install fdpl: ``pip install -e .``"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    out = []
    with open(osp.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-r'):
                out.append(line)
    return out


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'fdpl', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='fdpl',
    version=read_version(),
    description='Semi-supervised 3D medical image segmentation with fixed and dynamic '
    'pseudo-labels, on OpenMMLab',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs', 'projects')),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(
        tests=read_requirements('tests.txt'),
        mmseg=read_requirements('optional.txt')),
    license='Apache-2.0',
    zip_safe=False,
)
