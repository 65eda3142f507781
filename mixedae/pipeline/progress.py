"""Progress of the pipeline: the current stage, its iteration and an ETA.

The iteration comes from mmengine's log lines as the stage's output streams
(``Iter(train) [ 120/300]  ... eta: 0:00:18``, ``Epoch(train) [3][ 10/40]``,
``Iter(val) [4/8]``); the pipeline's ETA from the durations of finished stages of the same
task. On a terminal the line is redrawn in place, otherwise a line is printed each time
the stage passes another quarter of its iterations; with several stages at once, a line
named after its stage at each quarter.
"""
import re
import statistics
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, TextIO

ITER = re.compile(r'(Epoch|Iter)\((?P<mode>train|val|test)\)\s*(\[\s*(?P<epoch>\d+)\])?'
                  r'\s*\[\s*(?P<k>\d+)/(?P<n>\d+)\]')
ETA = re.compile(r'\beta: (?P<eta>[\d:]+(?: days?, [\d:]+)?)')


@dataclass
class IterInfo:
    """One parsed mmengine log line."""
    mode: str
    k: int
    n: int
    epoch: Optional[int] = None
    eta: Optional[str] = None

    @property
    def train_quarter(self) -> int:
        """The quarter of its training a train line has reached (0 to 4); -1 otherwise."""
        return 4 * self.k // self.n if self.mode == 'train' else -1

    def __str__(self) -> str:
        where = f'epoch {self.epoch} ' if self.epoch is not None else ''
        eta = f', eta {self.eta}' if self.eta else ''
        return f'{self.mode} {where}iter {self.k}/{self.n}{eta}'


def parse_iter_line(line: str) -> Optional[IterInfo]:
    """The iteration an mmengine log line reports, or ``None``."""
    match = ITER.search(line)
    if match is None:
        return None
    eta = ETA.search(line, match.end())
    return IterInfo(match['mode'], int(match['k']), int(match['n']),
                    int(match['epoch']) if match['epoch'] else None,
                    eta['eta'] if eta else None)


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f'{minutes // 60}:{minutes % 60:02d}:{secs:02d}'


def parse_eta(text: str) -> float:
    """Seconds of an mmengine ETA such as ``0:01:05`` or ``1 day, 2:03:04``."""
    days = 0
    if 'day' in text:
        head, text = text.split(',', 1)
        days = int(head.split()[0])
    seconds = 0
    for part in text.strip().split(':'):
        seconds = seconds * 60 + int(part)
    return days * 86400 + seconds


class Progress:
    """Prints stage starts, iteration updates and stage ends to ``out``.

    The pipeline's ETA is the running stage's own ETA (mmengine's, while it trains) plus,
    for every stage still to run, the mean duration of finished stages of its task (this
    run's or, from their state files, earlier runs'); a training stage of a task that has
    not finished yet counts as long as the mean training stage, an in-process stage
    (data, conversion, tables) of such a task as nothing.
    """

    def __init__(self, total: int, out: TextIO = sys.stdout, workers: int = 1) -> None:
        self.total = total
        self.out = out
        self.workers = workers   # stages at once: the estimate of the later ones is shared
        self.live = out.isatty() and workers == 1   # one line rewritten in place
        self.printing = threading.Lock()
        self.durations: dict[str, list[float]] = {}
        self.training: list[float] = []  # durations of finished stages that trained
        self.quarter = -1
        self.after: Optional[float] = None  # estimate of the stages after the current one

    def record(self, task: str, seconds: float, trained: bool) -> None:
        """A finished stage's duration, for the estimates."""
        self.durations.setdefault(task, []).append(seconds)
        if trained:
            self.training.append(seconds)

    def estimate(self, pending: Sequence[tuple[str, bool]]) -> Optional[float]:
        """Seconds for stages given as (task, trains); None while a training stage of a
        task without a finished stage cannot be estimated."""
        total = 0.
        for task, trains in pending:
            if task in self.durations:
                total += statistics.mean(self.durations[task])
            elif trains:
                if not self.training:
                    return None
                total += statistics.mean(self.training)
        return total

    def start(self, index: int, name: str, pending: Sequence[tuple[str, bool]]) -> None:
        """Announce stage ``index`` (1-based); ``pending``: (task, trains) of this stage and
        of the later ones that will probably run (not done before)."""
        self.quarter = -1
        self.after = self.estimate(pending[1:]) if pending else None
        eta = self.estimate(pending)
        eta = eta / self.workers if eta is not None else None
        suffix = f'  (pipeline eta {format_seconds(eta)})' if eta is not None else ''
        self.print(f'[{index}/{self.total}] {name}{suffix}')

    def pipeline_eta(self, info: IterInfo) -> Optional[float]:
        """The current stage's remaining training time plus the later stages'."""
        if self.after is None or info.eta is None:
            return None
        return parse_eta(info.eta) + self.after

    def update(self, line: str) -> None:
        """Feed one output line of the running stage."""
        info = parse_iter_line(line)
        if info is None:
            return
        eta = self.pipeline_eta(info) if info.mode == 'train' else None
        text = f'    {info}' + (f', pipeline eta {format_seconds(eta)}' if eta is not None
                               else '')
        if self.live:
            self.out.write(f'\r{text}\033[K')
            self.out.flush()
        if info.train_quarter > self.quarter:
            self.quarter = info.train_quarter
            if not self.live:
                self.print(text)

    def finish(self, task: str, status: str, seconds: float, trained: bool,
               name: str = '') -> None:
        """Close the stage's progress line; a finished stage times its task for the ETA.
        ``name``: the stage's, said where several run at once."""
        if self.live:
            self.out.write('\r\033[K')
        if status == 'done':
            self.record(task, seconds, trained)
            self.print(f'    {name + ": " if name else ""}done in {format_seconds(seconds)}')

    def stage_lines(self, name: str) -> Callable[[str], None]:
        """The line sink of one of several stages running at once: a line named after
        the stage at each quarter of its training."""
        quarter = -1

        def update(line: str) -> None:
            nonlocal quarter
            info = parse_iter_line(line)
            if info is not None and info.train_quarter > quarter:
                quarter = info.train_quarter
                self.print(f'    {name}: {info}')
        return update

    def print(self, text: str) -> None:
        with self.printing:
            print(text, file=self.out, flush=True)
