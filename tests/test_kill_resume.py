"""A pre-training run killed with SIGKILL and relaunched with ``tools/train.py --resume``
repeats, after the resume point, exactly the losses and learning rates of the run that
was killed (which had trained past that point uninterrupted)."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mmengine.config import Config

from conftest import CONFIGS, ROOT
from mixedae.engine import load_checkpoint_file

TINY = CONFIGS / 'demo' / 'mixedae_vit-tiny-p8_1xb32-300i_tiny.py'
CHECKPOINT_EVERY, KILL_AFTER, MAX_ITERS = 5, 9, 12

PAUSE_HOOK = '''
import time
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class PauseAfterIter(Hook):
    """Hold the run after iteration ``iteration`` is logged and checkpointed."""
    priority = 'LOWEST'

    def __init__(self, iteration, marker):
        self.iteration, self.marker = iteration, marker

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.iteration:
            open(self.marker, 'w').close()
            time.sleep(600)
'''


def train_command(config: Path, work_dir: Path, data_root: Path) -> list:
    """tools/train.py with a short schedule, a checkpoint every 5 and a log line per
    iteration (unsmoothed); the tiny config's 2 persistent data workers are kept."""
    return [sys.executable, str(ROOT / 'tools/train.py'), str(config), '--work-dir',
            str(work_dir), '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
            f'train_cfg.max_iters={MAX_ITERS}',
            f'default_hooks.checkpoint.interval={CHECKPOINT_EVERY}',
            'default_hooks.logger.interval=1', 'log_processor.window_size=1']


def config_paused_after(tmp_path: Path, iteration: int, marker: Path) -> Path:
    """The tiny config plus a hook (importable from ``tmp_path``) that blocks the run."""
    (tmp_path / 'pause_hook.py').write_text(PAUSE_HOOK)
    cfg = Config.fromfile(str(TINY))
    cfg.custom_imports.imports.append('pause_hook')
    cfg.custom_hooks.append(dict(type='PauseAfterIter', iteration=iteration, marker=str(marker)))
    path = tmp_path / 'paused.py'
    cfg.dump(str(path))
    return path


def wait_for(marker: Path, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, f'run ended early:\n{log.read_text()[-3000:]}'
        assert time.monotonic() < deadline, f'run too slow:\n{log.read_text()[-3000:]}'
        time.sleep(0.2)


def logged_iterations(run_dir: Path) -> dict:
    """iteration -> scalars logged by one run (``<timestamp>/vis_data/scalars.json``)."""
    lines = (run_dir / 'vis_data' / 'scalars.json').read_text().splitlines()
    return {row['iter']: row for row in map(json.loads, lines)}


def test_killed_run_resumes_exactly(pretrain_data_root, tmp_path):
    work_dir, marker, log = tmp_path / 'work', tmp_path / 'paused', tmp_path / 'killed.log'
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(tmp_path), os.environ.get('PYTHONPATH', '')])}
    paused = config_paused_after(tmp_path, KILL_AFTER, marker)
    with open(log, 'w') as out:
        proc = subprocess.Popen(train_command(paused, work_dir, pretrain_data_root), cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            wait_for(marker, proc, log)
        finally:
            os.kill(proc.pid, signal.SIGKILL)           # pre-emption: no clean-up
            proc.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)     # its orphaned data workers
    assert proc.returncode == -signal.SIGKILL
    assert (work_dir / 'last_checkpoint').read_text().endswith('iter_5.pth')

    resumed = subprocess.run(train_command(TINY, work_dir, pretrain_data_root) + ['--resume'],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 5' in resumed.stdout + resumed.stderr

    killed_dir, resumed_dir = sorted(p for p in work_dir.iterdir() if p.is_dir())
    killed, again = logged_iterations(killed_dir), logged_iterations(resumed_dir)
    assert sorted(killed) == list(range(1, KILL_AFTER + 1))
    assert sorted(again) == list(range(CHECKPOINT_EVERY + 1, MAX_ITERS + 1))
    keys = ('loss', 'loss_rec', 'loss_hc', 'homo_acc', 'lr')
    for it in range(CHECKPOINT_EVERY + 1, KILL_AFTER + 1):           # iterations 6..9
        assert {k: again[it][k] for k in keys} == {k: killed[it][k] for k in keys}, it
    final = load_checkpoint_file(str(work_dir / f'iter_{MAX_ITERS}.pth'))
    assert final['meta']['iter'] == MAX_ITERS
    assert int(next(iter(final['optimizer']['state'].values()))['step']) == MAX_ITERS
