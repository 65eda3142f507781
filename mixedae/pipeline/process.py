"""Run one stage command as a subprocess, streaming its output into the stage log."""
import ctypes
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO

from .lock import StageLock

TRACEBACK = 'Traceback (most recent call last):'
RUNNING: set[subprocess.Popen] = set()   # the commands started here that still run
INTERRUPTED: set[subprocess.Popen] = set()   # those stop_running() stopped
IGNORED = re.compile(r'^Exception ignored (in|on)\b')


class StageError(RuntimeError):
    """A stage that did not finish; the message says why."""


PR_SET_PDEATHSIG = 1
# looked up once here: a child between fork and exec should do as little as possible
PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == 'linux' else None


def die_with_parent(parent: int) -> None:
    """In a new child (``preexec_fn``): get SIGTERM when ``parent`` dies, even by SIGKILL.

    Linux only (``prctl``); elsewhere a killed pipeline leaves its command running, and
    the stage lock makes a re-run refuse the stage until it ends.
    """
    if PRCTL is None:
        return
    PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)


def run_logged(argv: Sequence[str], log: TextIO, on_line: Callable[[str], None],
               label: str, env: Optional[dict[str, str]] = None,
               lock: Optional[StageLock] = None) -> None:
    """Run ``argv`` with ``env`` added to the environment; every output line (stdout and
    stderr) goes to ``log`` and ``on_line``. If this process is interrupted meanwhile
    (Ctrl-C, or SIGTERM turned into ``KeyboardInterrupt``), the command is stopped too;
    if it dies (even by SIGKILL), the command gets SIGTERM. ``lock``: the stage's lock,
    handed to the command so that it stays held until the command has exited.

    Raises:
        StageError: the command exited with a non-zero status.
    """
    log.write('$ ' + ' '.join(argv) + '\n')
    log.flush()
    parent = os.getpid()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, errors='replace',
                            env={**os.environ, **(env or {}), 'PYTHONUNBUFFERED': '1'},
                            pass_fds=(lock.fd,) if lock else (),
                            preexec_fn=lambda: die_with_parent(parent))
    if lock:
        lock.note(f'pipeline pid {parent}, command pid {proc.pid}: {" ".join(argv)}')
    RUNNING.add(proc)
    try:
        for line in proc.stdout:
            log.write(line)
            on_line(line)
        proc.wait()
    except BaseException:
        stop(proc)
        raise
    finally:
        RUNNING.discard(proc)
        proc.stdout.close()
        log.flush()
    if proc in INTERRUPTED:   # as if this thread had been interrupted: the stage resumes
        INTERRUPTED.discard(proc)
        raise KeyboardInterrupt(f'{label} stopped: the pipeline was interrupted')
    if proc.returncode:
        raise StageError(f'{label} exited with status {proc.returncode}')


def stop(proc: subprocess.Popen, grace: float = 10.) -> None:
    """Interrupt a command (it may have got the terminal's SIGINT already), then
    terminate, then kill it, waiting ``grace`` seconds between steps."""
    for send in (lambda: proc.send_signal(signal.SIGINT), proc.terminate, proc.kill):
        if proc.poll() is not None:
            return
        send()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass


def stop_running() -> None:
    """Stop every command still running (the driver was interrupted while other threads
    waited for their stages' commands)."""
    for proc in list(RUNNING):
        INTERRUPTED.add(proc)
        stop(proc)


def error_excerpt(log_path: Path, max_lines: int = 6) -> list[str]:
    """The end of the last traceback in a log (innermost frame and the error message),
    else its last lines; tracebacks of ``Exception ignored in ...`` handlers are skipped."""
    lines = log_path.read_text(errors='replace').splitlines() if log_path.is_file() else []
    starts = [i for i, line in enumerate(lines)
              if line.startswith(TRACEBACK) and not (i and IGNORED.match(lines[i - 1]))]
    if not starts:
        return [line for line in lines if line.strip()][-max_lines:]
    block = lines[starts[-1] + 1:]
    end = next((i for i, line in enumerate(block) if not line.startswith(' ')), len(block))
    frame = [line.strip() for line in block[:end] if line.lstrip().startswith('File ')]
    message = []
    for line in block[end:]:
        if not line.strip() or IGNORED.match(line) or line.startswith(TRACEBACK):
            break
        message.append(line)
    return (frame[-1:] + message)[:max_lines]
