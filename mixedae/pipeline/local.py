"""The local executor: the selected stages on this machine, one after another or, with
``executor = dict(type='local', workers=N)``, up to N at once, each as soon as the stages
it waits for have ended; training and testing as subprocesses (under torchrun with
``launcher = dict(nproc_per_node=N)``, then one stage at a time), the rest in this
process. A failed stage blocks only the stages that need it."""
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, TextIO

from ..study import read_state
from .execute import Outcome, run_stage
from .executor import Executor, report_outcome
from .plan import Plan
from .process import stop_running
from .progress import Progress
from .stages import Stage


class LocalExecutor(Executor):
    """Runs the plan in this process (its ``run`` always waits: it does the work)."""

    @property
    def workers(self) -> int:
        return self.spec.workers if self.spec is not None else 1

    def run(self, plan: Plan, out: TextIO, wait: bool = True,
            on_started: Callable[[], None] = lambda: None) -> list[Outcome]:
        progress = Progress(len(plan.selected), out, self.workers)
        done = {s.name: (read_state(s.dir) or {}).get('status') == 'done'
                for s in plan.stages}
        for stage in plan.stages:   # durations of earlier runs, for the ETA
            state = read_state(stage.dir) or {}
            if done[stage.name] and 'seconds' in state:
                progress.record(stage.task, state['seconds'], stage.trains)
        if self.workers > 1:
            return self.run_at_once(plan, progress, done, out)
        outcomes = []
        for index, stage in enumerate(plan.selected, 1):
            progress.start(index, stage.name, pending_tasks(plan, plan.selected[index - 1:],
                                                            done))
            outcome = run_stage(plan, stage, self.context(stage), progress.update,
                                plan.forced(stage))
            if outcome.status in ('done', 'failed'):
                progress.finish(stage.task, outcome.status, outcome.seconds, stage.trains)
            report_outcome(outcome, out)
            outcomes.append(outcome)
        return outcomes

    def run_at_once(self, plan: Plan, progress: Progress, done: dict[str, bool],
                    out: TextIO) -> list[Outcome]:
        """Up to ``workers`` stages at a time, in plan order among those whose selected
        predecessors (:meth:`Plan.waits_for`) have ended; each stage's commands run from a
        thread of this process. Interrupted (Ctrl-C, SIGTERM), it stops their commands."""
        selected = {s.name for s in plan.selected}
        waiting, ended = list(plan.selected), {}
        running: dict[Future, Stage] = {}
        with ThreadPoolExecutor(self.workers, thread_name_prefix='stage') as pool:
            try:
                while waiting or running:
                    ready = [s for s in waiting
                             if all(w.name in ended or w.name not in selected
                                    for w in plan.waits_for(s))]
                    for stage in ready[:self.workers - len(running)]:
                        waiting.remove(stage)
                        progress.start(len(ended) + len(running) + 1, stage.name,
                                       pending_tasks(plan, [stage, *waiting], done))
                        running[pool.submit(run_stage, plan, stage, self.context(stage),
                                            progress.stage_lines(stage.name),
                                            plan.forced(stage))] = stage
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        stage = running.pop(future)
                        outcome = ended[stage.name] = future.result()
                        if outcome.status in ('done', 'failed'):
                            progress.finish(stage.task, outcome.status, outcome.seconds,
                                            stage.trains, stage.name)
                        with progress.printing:   # not amid a running stage's line
                            report_outcome(outcome, out, named=True)
            except BaseException:
                stop_running()
                raise
        return [ended[s.name] for s in plan.selected]


def pending_tasks(plan: Plan, stages: list[Stage], done: dict[str, bool]
                  ) -> list[tuple[str, bool]]:
    """(task, trains) of the stages that will probably run (not done before, or forced)."""
    return [(s.task, s.trains) for s in stages if not done[s.name] or plan.forced(s)]
