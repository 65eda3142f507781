"""Package metadata lives in setup.cfg; this file adds what OpenMMLab's ``mim`` needs, as
mmpretrain's and mmdet's setup.py do: ``mixedae/.mim/`` with the tools, the configs and
model-index.yml (``mim train mixedae CONFIG`` runs ``mixedae/.mim/tools/train.py`` and
finds a config by its file name under ``mixedae/.mim/configs``).

An editable install (``pip install -e .``) links them into the source tree; a wheel or
sdist build copies them (MANIFEST.in ships them as package data).
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import setup

MIM_FILES = ('tools', 'configs', 'model-index.yml')


def add_mim_extension() -> None:
    """Link (editable install) or copy (wheel, sdist) MIM_FILES into mixedae/.mim/."""
    commands = set(sys.argv)
    if commands & {'develop', 'editable_wheel'}:
        mode = 'symlink'
    elif commands & {'sdist', 'bdist_wheel', 'build'}:
        mode = 'copy'
    else:
        return  # metadata queries (egg_info, dist_info) need nothing
    repo = osp.dirname(osp.abspath(__file__))
    mim = osp.join(repo, 'mixedae', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(repo, name), osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup()
