"""What every stage is, and what it runs with.

A stage has a folder (its ``stage.json`` state, ``stage.log`` and lock), the names of the
stages it needs, a *signature* (its command and input files: when it changes, the stage
runs again) and ``run``, which does the work and returns the stage's outputs (name ->
path). The :class:`Context` says how its commands start (plain, torchrun, srun) and holds
the outputs of the stages it needs; an :class:`Attempt` is one go at running it.
"""
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, TextIO

from ..lock import StageLock
from ..process import run_logged

LineSink = Callable[[str], None]


@dataclass(frozen=True)
class Context:
    """How a stage's commands start, and the outputs of the finished stages it needs."""
    tools: Path
    python: str = sys.executable
    nproc_per_node: Optional[int] = None   # torchrun with this many processes
    srun: Optional[dict] = None   # in a SLURM job: srun options (ntasks, ...), --launcher slurm
    env: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def world_size(self) -> int:
        """Processes a training stage runs on."""
        return self.srun['ntasks'] if self.srun else self.nproc_per_node or 1

    def output(self, stage: str, key: str) -> str:
        """A finished stage's output path (a ``<stage:key>`` placeholder before that)."""
        return self.outputs.get(stage, {}).get(key, f'<{stage}:{key}>')

    def command(self, script: str, args: Sequence[str]) -> list[str]:
        """argv running ``tools/<script>`` (under srun or torchrun if asked)."""
        tool = str(self.tools / script)
        if self.srun is not None:
            return ['srun', *(f'--{k.replace("_", "-")}={v}' for k, v in self.srun.items()),
                    '--kill-on-bad-exit=1', self.python, tool, *args, '--launcher', 'slurm']
        if self.nproc_per_node is None:
            return [self.python, tool, *args]
        return [self.python, '-m', 'torch.distributed.run',
                f'--nproc_per_node={self.nproc_per_node}', tool, *args,
                '--launcher', 'pytorch']


@dataclass
class Attempt:
    """One go at running a stage: its log, the sink of its output lines (progress), whether
    it continues an interrupted attempt, and the stage's lock (handed to its commands, so
    that it stays held while they run)."""
    log: TextIO
    on_line: LineSink
    resume: bool = False
    lock: Optional[StageLock] = None

    def run(self, argv: Sequence[str], label: str, env: Mapping[str, str]) -> None:
        """Run a command, its output into the log and the sink.

        Raises:
            StageError: it exited with a non-zero status.
        """
        run_logged(argv, self.log, self.on_line, label, dict(env), self.lock)


@dataclass
class Stage(ABC):
    """Base of all stages. ``task`` groups stages of different methods (for the ETA);
    ``trains``: the stage runs where training runs (an accelerator node); ``after_all``:
    the stage waits for every other stage, whatever became of them (the tables)."""
    name: str
    dir: Path
    task: str
    needs: tuple[str, ...] = ()
    trains = False
    after_all = False

    @property
    def log(self) -> Path:
        return self.dir / 'stage.log'

    @abstractmethod
    def describe(self, ctx: Context) -> str:
        """One line for ``--dry-run``: what the stage would do."""

    @abstractmethod
    def signature(self, ctx: Context) -> dict:
        """JSON-able command and input stamps; a change makes the stage run again.

        Raises:
            OSError: an input file is missing.
        """

    @abstractmethod
    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        """Do the work (``attempt.resume``: continue an interrupted attempt); return the
        outputs.

        Raises:
            StageError: the stage did not finish.
        """
