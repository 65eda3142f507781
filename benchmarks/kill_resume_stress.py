"""SIGKILL a tiny pre-training at random moments, resume it each time, compare bit for bit.

The tiny MixedAE config (``configs/demo``, 2 data workers) with a checkpoint every
``--interval`` iterations and ``max_keep_ckpts=1`` runs once uninterrupted (the
reference), then again under ``--kills`` SIGKILLs (each one to the whole process group,
data workers included), relaunched with ``tools/train.py --resume`` after each. A kill is
either

* ``random``: sent from here after a random delay (start-up, model building, data
  loading, training, checkpoint writes: wherever the run is), or
* injected by :class:`KillDuringCheckpointHook` at one of the moments of a checkpoint
  save where upstream mmengine loses the run: ``mid-write`` (the checkpoint half written),
  ``before-pointer`` (written, ``last_checkpoint`` not yet moved), ``pointer-mid-write``
  (the pointer half written) and ``before-delete`` (pointer moved, the checkpoint that
  fell out of ``max_keep_ckpts`` not yet deleted).

After every kill the checkpoint that ``last_checkpoint`` names must load (safe loader,
digest checked); at the end the final checkpoint's tensors (weights, optimizer state) must
equal the reference's bit for bit (same SHA-256 digests), every iteration logged by any
of the killed runs must have the reference's loss and learning rate, and the work dir
must hold one checkpoint and no temporary file.

    python benchmarks/kill_resume_stress.py [--kills 50] [--max-iters 120]
        [--interval 2] [--seed 0] [--work-dir DIR] [--keep]
"""
import argparse
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'
STAGES = ('mid-write', 'before-pointer', 'pointer-mid-write', 'before-delete')
COMPARED = ('loss', 'loss_rec', 'loss_hc', 'homo_acc', 'lr')


def kill_this_run() -> None:
    """SIGKILL this process and its data workers (the process group of the run)."""
    os.killpg(os.getpgid(0), signal.SIGKILL)


@HOOKS.register_module()
class KillDuringCheckpointHook(Hook):
    """Kill the run at ``stage`` of the save of checkpoint ``step`` (test harness: it
    wraps the project's checkpoint functions in this process only)."""

    def __init__(self, stage: str, step: int) -> None:
        assert stage in STAGES, stage
        self.stage, self.name = stage, f'iter_{step}.pth'

    def before_train(self, runner) -> None:
        from mixedae import atomic_write
        from mixedae.engine import atomic_backend, checkpoint_hook
        name, stage = self.name, self.stage
        put, pointer, remove = (atomic_backend.AtomicLocalBackend.put,
                                checkpoint_hook.write_atomically,
                                checkpoint_hook.AtomicCheckpointHook._remove)

        def half_written(path: str, data: bytes) -> None:
            with atomic_write.atomic_output(path) as f:
                f.write(data[:len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
                kill_this_run()

        def put_and_kill(backend, obj, filepath):
            if stage == 'mid-write' and str(filepath).endswith(name):
                half_written(str(filepath), obj)
            return put(backend, obj, filepath)

        def move_pointer_and_kill(path, data):
            if data.decode().endswith(name):
                if stage == 'before-pointer':
                    kill_this_run()
                if stage == 'pointer-mid-write':
                    half_written(path, data)
            return pointer(path, data)

        def remove_and_kill(hook, filename):
            if stage == 'before-delete' and str(hook.last_ckpt).endswith(name):
                kill_this_run()
            return remove(hook, filename)

        atomic_backend.AtomicLocalBackend.put = put_and_kill
        checkpoint_hook.write_atomically = move_pointer_and_kill
        checkpoint_hook.AtomicCheckpointHook._remove = remove_and_kill


# ---------------------------------------------------------------- running the tool


def train_command(work_dir: Path, data_root: Path, max_iters: int, interval: int,
                  config: Path = CONFIG) -> List[str]:
    """tools/train.py --resume on the tiny config, logging every iteration unsmoothed."""
    return [sys.executable, str(ROOT / 'tools/train.py'), str(config), '--work-dir',
            str(work_dir), '--resume', '--cfg-options',
            f'train_dataloader.dataset.data_root={data_root}',
            f'train_cfg.max_iters={max_iters}',
            f'default_hooks.checkpoint.interval={interval}',
            'default_hooks.checkpoint.max_keep_ckpts=1',
            'default_hooks.logger.interval=1', 'log_processor.window_size=1']


def config_killed_at(folder: Path, stage: str, step: int) -> Path:
    """The tiny config plus the kill hook (this module, importable by the run)."""
    from mmengine.config import Config
    path = folder / f'kill_{stage}_{step}.py'
    if not path.exists():
        cfg = Config.fromfile(str(CONFIG))
        cfg.custom_imports.imports.append('kill_resume_stress')
        cfg.custom_hooks.append(dict(type='KillDuringCheckpointHook', stage=stage,
                                     step=step))
        cfg.dump(str(path))
    return path


def launch(command: List[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(ROOT), str(ROOT / 'benchmarks'), os.environ.get('PYTHONPATH', '')])}
    with open(log, 'w') as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def end(proc: subprocess.Popen, timeout: Optional[float] = None) -> int:
    """Wait for the run (``timeout``: then SIGKILL its process group)."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def reap(proc: subprocess.Popen) -> None:
    """Kill what is left of a killed run's group (its data workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


# ---------------------------------------------------------------- what is on disk


def last_checkpoint(work_dir: Path) -> Optional[Path]:
    pointer = work_dir / 'last_checkpoint'
    return Path(pointer.read_text().strip()) if pointer.exists() else None


def resumable(work_dir: Path) -> Tuple[bool, int, str]:
    """(the run can resume, from which iteration, why not): ``last_checkpoint`` is absent
    (nothing saved yet: a fresh start) or names a checkpoint that loads."""
    from mixedae.engine import load_checkpoint_file
    path = last_checkpoint(work_dir)
    if path is None:
        return not list(work_dir.glob('iter_*.pth')), 0, 'no pointer'
    try:
        return True, load_checkpoint_file(str(path))['meta']['iter'], ''
    except Exception as e:   # noqa: BLE001  (reported, not raised)
        return False, -1, f'{type(e).__name__}: {e}'


def logged(work_dir: Path) -> List[Dict[int, dict]]:
    """iteration -> scalars, for each run (timestamped folder) in the work dir."""
    runs = []
    for scalars in sorted(work_dir.glob('*/vis_data/scalars.json')):
        rows = []
        for line in scalars.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):   # a line cut by the kill
                rows.append(json.loads(line))
        runs.append({row['iter']: row for row in rows if 'loss' in row})
    return runs


def final_digests(work_dir: Path, max_iters: int) -> dict:
    from mixedae.engine import load_checkpoint_file
    checkpoint = load_checkpoint_file(str(work_dir / f'iter_{max_iters}.pth'))
    return dict(checkpoint['meta']['tensor_sha256'],
                param_schedulers=repr(checkpoint.get('param_schedulers')))


# ---------------------------------------------------------------- the experiment


def reference_run(work_dir: Path, data_root: Path, max_iters: int,
                  interval: int) -> float:
    """The uninterrupted run; returns its wall time."""
    start = time.monotonic()
    proc = launch(train_command(work_dir, data_root, max_iters, interval),
                  work_dir.parent / 'reference.log')
    if end(proc, timeout=1800) != 0:
        sys.exit(f'reference run failed: {work_dir.parent / "reference.log"}')
    return time.monotonic() - start


def killed_runs(work_dir: Path, data_root: Path, max_iters: int, interval: int,
                plan: List[Tuple[str, float]], rng: random.Random,
                log_dir: Path) -> List[dict]:
    """Run under the kills of ``plan`` (``('random', delay_s)`` or ``(stage, 0)``: the
    stage at the next or second-next checkpoint), then once more to the end."""
    events = []
    for i, (kind, delay) in enumerate(plan):
        resumed_from = resumable(work_dir)[1]
        kill, config = None, CONFIG
        if kind != 'random':
            step = resumed_from - resumed_from % interval + interval * rng.randint(1, 2)
            if kind == 'before-delete':   # a fresh run's first save deletes nothing
                step = max(step, 2 * interval)
            kill = (kind, min(step, max_iters - interval))
            config = config_killed_at(log_dir, *kill)
        proc = launch(train_command(work_dir, data_root, max_iters, interval, config),
                      log_dir / f'run_{i:02d}.log')
        if kind == 'random':
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(delay)
            reap(proc)
        code = end(proc, timeout=600)
        reap(proc)
        ok, at, why = resumable(work_dir)
        events.append(dict(kind=kind, delay=delay, kill_step=kill and kill[1],
                           returncode=code, resumed_from=resumed_from, resumable=ok,
                           pointer_iter=at, why=why))
        if code == 0:
            break                      # the run ended before the kill
    resumed_from = resumable(work_dir)[1]
    proc = launch(train_command(work_dir, data_root, max_iters, interval),
                  log_dir / 'final.log')
    events.append(dict(kind='final', returncode=end(proc, timeout=1800),
                       resumed_from=resumed_from))
    return events


def compare(reference: Path, stressed: Path, max_iters: int) -> dict:
    """What differs between the reference and the killed-and-resumed work dirs."""
    (ref,) = logged(reference)
    mismatches, checked = [], 0
    for run in logged(stressed):
        for it, row in run.items():
            checked += 1
            if {k: row.get(k) for k in COMPARED} != {k: ref[it].get(k) for k in COMPARED}:
                mismatches.append(it)
    left = sorted(p.name for p in stressed.iterdir()
                  if p.name.endswith('.pth') or p.name.endswith('.partial'))
    return dict(identical=final_digests(reference, max_iters) == final_digests(
        stressed, max_iters), logged_iterations_checked=checked,
        loss_mismatches=mismatches, files_left=left)


def make_plan(kills: int, rng: random.Random, life_s: float) -> List[Tuple[str, float]]:
    """Half random-time kills (delay uniform over a run's start-up and first few
    iterations), half spread over the checkpoint stages."""
    plan = [('random', rng.uniform(0.2, life_s)) if i % 2 == 0
            else (STAGES[(i // 2) % len(STAGES)], 0.0) for i in range(kills)]
    rng.shuffle(plan)
    return plan


def tiny_data(root: Path) -> Path:
    from mixedae.data import make_tiny_imagenet
    make_tiny_imagenet(root, seed=0, num_classes=4, train_per_class=16, val_per_class=1)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--kills', type=int, default=50)
    parser.add_argument('--max-iters', type=int, default=120)
    parser.add_argument('--interval', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', help='default: a temporary folder')
    parser.add_argument('--keep', action='store_true', help='keep the work dirs')
    args = parser.parse_args()
    base = Path(args.work_dir or tempfile.mkdtemp(prefix='kill_resume_'))
    base.mkdir(parents=True, exist_ok=True)
    (base / 'logs').mkdir(exist_ok=True)
    rng = random.Random(args.seed)
    data_root = tiny_data(base / 'data')

    start = time.monotonic()
    reference_s = reference_run(base / 'reference', data_root, args.max_iters,
                                args.interval)
    per_iter_s = reference_s / args.max_iters   # start-up included: an upper bound
    plan = make_plan(args.kills, rng, life_s=min(reference_s, 12 + 6 * per_iter_s))
    events = killed_runs(base / 'stressed', data_root, args.max_iters, args.interval,
                         plan, rng, base / 'logs')
    result = compare(base / 'reference', base / 'stressed', args.max_iters)

    kills = [e for e in events if e['kind'] != 'final']
    by_kind = collections.Counter(e['kind'] for e in kills if e['returncode'] != 0)
    unresumable = [e for e in kills if not e['resumable']]
    print(f'work dir: {base}')
    print(f'reference run: {args.max_iters} iterations in {reference_s:.1f} s; '
          f'checkpoint every {args.interval}, max_keep_ckpts=1')
    print(f'kills: {sum(by_kind.values())} of {len(plan)} planned '
          f'({", ".join(f"{k}: {v}" for k, v in sorted(by_kind.items()))}); runs that '
          f'ended before their kill: {sum(e["returncode"] == 0 for e in kills)}')
    print(f'resumable after every kill: {not unresumable} '
          f'({len(kills) - len(unresumable)}/{len(kills)})')
    for e in unresumable:
        print(f'  NOT resumable after {e["kind"]} (step {e["kill_step"]}): {e["why"]}')
    print(f'final run: exit {events[-1]["returncode"]}, resumed from iteration '
          f'{events[-1]["resumed_from"]}')
    print(f'final weights and optimizer state bit-identical to the reference: '
          f'{result["identical"]}')
    print(f'logged iterations compared with the reference: '
          f'{result["logged_iterations_checked"]}, mismatches: '
          f'{len(result["loss_mismatches"])} {result["loss_mismatches"][:10]}')
    print(f'files left: {result["files_left"]}')
    print(f'total time: {time.monotonic() - start:.0f} s')
    if not args.keep and not args.work_dir:
        shutil.rmtree(base)
    ok = (not unresumable and events[-1]['returncode'] == 0 and result['identical']
          and not result['loss_mismatches']
          and result['files_left'] == [f'iter_{args.max_iters}.pth'])
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
