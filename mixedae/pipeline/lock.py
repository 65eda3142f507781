"""A stage's lock, ``<stage dir>/.stage.lock``: one process at a time works in a stage's folder.

The pipeline takes the lock (``flock``) before it runs a stage and hands it on to the
stage's command (an inherited descriptor): the kernel releases it only when the pipeline
*and* the command have exited. So a pipeline killed with SIGKILL while its training still
runs, or is still stopping, leaves the lock held, and a re-run refuses that stage instead
of starting a second training that would overwrite and delete the first one's
checkpoints. The file names the holders (for the refusal message).
"""
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_FILE = '.stage.lock'


class StageBusy(RuntimeError):
    """Another process works in the stage's folder; the message names it."""


class StageLock:
    """A held stage lock: ``fd`` is the descriptor to hand to the stage's commands."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def note(self, text: str) -> None:
        """Record who holds the lock (shown to a process that finds it taken)."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode() + b'\n', 0)


def holders(stage_dir: Path) -> str:
    """Who holds (or last held) a stage's lock, as its file says."""
    try:
        return (stage_dir / LOCK_FILE).read_text().strip() or 'unknown process'
    except OSError:
        return 'unknown process'


@contextmanager
def stage_lock(stage_dir: Path) -> Iterator[StageLock]:
    """Hold the stage's lock for the ``with`` block.

    Raises:
        StageBusy: another process holds it (a stage command started by an earlier
            pipeline that is still running, or another pipeline or SLURM job).
    """
    stage_dir.mkdir(parents=True, exist_ok=True)
    path = stage_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StageBusy(f'{stage_dir} is in use by another process ({holders(stage_dir)}); '
                        'a command started by an earlier run may still be running: wait '
                        'for it to end, or stop it, then run again') from None
    lock = StageLock(path, fd)
    lock.note(f'pipeline pid {os.getpid()}')
    try:
        yield lock
    finally:
        os.close(fd)
