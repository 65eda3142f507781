"""OpenMMLab's ``mim`` drives this package as it drives mmpretrain: ``mim train mixedae
CONFIG`` finds the config by its name under ``mixedae/.mim/configs`` and runs
``mixedae/.mim/tools/train.py``, ``mim test`` runs ``tools/test.py`` on a checkpoint, and
model-index.yml lists every config (with no weights yet)."""
import subprocess
import sys
from pathlib import Path

from conftest import CONFIGS, ROOT

TINY_PRETRAIN = 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'


def test_model_index_lists_every_config():
    from modelindex.load_model_index import load
    index = load(str(ROOT / 'model-index.yml'))
    listed = [m.config for m in index.models]
    configs = sorted(p.relative_to(ROOT).as_posix() for p in CONFIGS.rglob('*.py')
                     if p.parent.name not in ('_base_', 'pipelines'))
    assert sorted(listed) == configs
    assert len({m.name for m in index.models}) == len(configs)     # unique names
    assert all(m.weights is None and Path(m.config).stem == m.name for m in index.models)


def mim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'mim', *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_mim_train_and_test(study, tmp_path):
    """Two iterations of the tiny pre-training config given by name, and the study's
    linear-probe checkpoint evaluated (in the study's folder, where its tiny data is)."""
    from mim.utils import get_installed_path
    package = Path(get_installed_path('mixedae'))
    assert (package / '.mim' / 'tools' / 'train.py').is_file(), (
        f'{package}/.mim/tools/train.py is missing: install with tools/setup_env.sh '
        '(setup.py links tools/ and configs/ into mixedae/.mim)')
    cwd, _ = study
    work_dir = tmp_path / 'pretrain'
    trained = mim('train', 'mixedae', TINY_PRETRAIN, '--work-dir', str(work_dir),
                  '--cfg-options', 'train_cfg.max_iters=2', 'train_dataloader.batch_size=8',
                  'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                  'default_hooks.logger.interval=1', cwd=cwd)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert f"will use {CONFIGS.resolve() / 'demo' / TINY_PRETRAIN} instead" in trained.stdout
    assert 'Training finished successfully' in trained.stdout
    assert (work_dir / 'iter_2.pth').is_file()

    linear = cwd / 'study' / 'mixedae' / 'cls_linear'
    checkpoint = (linear / 'last_checkpoint').read_text().strip()
    tested = mim('test', 'mixedae', str(CONFIGS / 'demo' / 'cls-linear_vit-tiny-p8_tiny.py'),
                 '--checkpoint', checkpoint, '--work-dir', str(tmp_path / 'test'),
                 '--cfg-options', 'model.backbone.init_cfg.checkpoint='
                 + str(cwd / 'study' / 'mixedae' / 'convert' / 'mmpretrain.pth'), cwd=cwd)
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert 'Testing finished successfully' in tested.stdout
    assert 'accuracy/top1' in tested.stdout + tested.stderr
