"""The local executor: the selected stages one after another on this machine; training
and testing as subprocesses (under torchrun with ``launcher = dict(nproc_per_node=N)``),
the rest in this process. A failed stage blocks only the stages that need it."""
from typing import Callable, TextIO

from ..study import read_state
from .execute import Outcome, run_stage
from .executor import Executor, report_outcome
from .plan import Plan
from .progress import Progress


class LocalExecutor(Executor):
    """Runs the plan in this process (its ``run`` always waits: it does the work)."""

    def run(self, plan: Plan, out: TextIO, wait: bool = True,
            on_started: Callable[[], None] = lambda: None) -> list[Outcome]:
        progress = Progress(len(plan.selected), out)
        done = {s.name: (read_state(s.dir) or {}).get('status') == 'done'
                for s in plan.stages}
        for stage in plan.stages:   # durations of earlier runs, for the ETA
            state = read_state(stage.dir) or {}
            if done[stage.name] and 'seconds' in state:
                progress.record(stage.task, state['seconds'], stage.trains)
        outcomes = []
        for index, stage in enumerate(plan.selected, 1):
            pending = [(s.task, s.trains) for s in plan.selected[index - 1:]
                       if not done[s.name] or plan.forced(s)]
            progress.start(index, stage.name, pending)
            outcome = run_stage(plan, stage, self.context(stage), progress,
                                plan.forced(stage))
            if outcome.status in ('done', 'failed'):
                progress.finish(stage.task, outcome.status, outcome.seconds, stage.trains)
            report_outcome(outcome, out)
            outcomes.append(outcome)
        return outcomes
