"""The study's last stages: the side-by-side cost measurement and the report page.

``cost`` runs ``tools/measure_cost.py`` (one process on one device: never under torchrun
or srun), whose ``ROOT/cost/step_time.json`` the tables' cost column reads; ``report``
writes ``ROOT/report/report.html`` from the tables, the cost record, the training curves
and one mix per method (:mod:`mixedae.report`).
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

from .process import run_logged
from .stages import Context, LineSink, Stage, config_digest
from .state import file_stamp, read_state


@dataclass(frozen=True)
class MethodConfig:
    """A method's pre-training config and the study's overrides of it (None: the method
    was given as weights, with nothing to time or rebuild)."""
    name: str
    config: Optional[Path]
    cfg_options: dict = field(default_factory=dict)


@dataclass
class CostStage(Stage):
    """Every method's training step timed side by side in one process, on the device the
    training stages use, at their model, resolution and per-device batch."""
    pipeline: Path = Path()
    work_root: Path = Path()
    methods: tuple[MethodConfig, ...] = ()
    settings: dict = field(default_factory=dict)
    trains = True   # where training runs: on an accelerator node

    @property
    def out(self) -> Path:
        return self.dir / 'step_time.json'

    def command(self, ctx: Context) -> list[str]:
        return [ctx.python, str(ctx.tools / 'measure_cost.py'), str(self.pipeline),
                '--work-root', str(self.work_root), '--out', str(self.out)]

    def describe(self, ctx: Context) -> str:
        return ' '.join(self.command(ctx))

    def signature(self, ctx: Context) -> dict:
        return {'measure_cost': self.command(ctx)[1:], 'settings': self.settings,
                'methods': {m.name: [config_digest(m.config), m.cfg_options]
                            for m in self.methods if m.config is not None}}

    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        run_logged(self.command(ctx), log, on_line, 'tools/measure_cost.py', ctx.env,
                   ctx.lock)
        return {'step_time': str(self.out)}


@dataclass
class ReportStage(Stage):
    """``report.html``: the table, deltas, costs, curves and a mix per method, with every
    figure embedded (the page stands alone)."""
    root: Path = Path()
    published: Path = Path()
    baseline: str = 'mae'
    methods: tuple[MethodConfig, ...] = ()

    @property
    def out(self) -> Path:
        return self.dir / 'report.html'

    def checkpoints(self) -> dict[str, Optional[str]]:
        """Each method's pre-training checkpoint, from its stage's state file (whichever
        executor ran it; None if that stage has not finished)."""
        states = {m.name: read_state(self.root / m.name / 'pretrain') or {}
                  for m in self.methods}
        return {name: state.get('outputs', {}).get('checkpoint')
                if state.get('status') == 'done' else None for name, state in states.items()}

    def describe(self, ctx: Context) -> str:
        return f'report {self.root} -> {self.out}'

    def signature(self, ctx: Context) -> dict:
        tables = read_state(self.root / 'tables') or {}
        inputs = [*tables.get('outputs', {}).values(),
                  *(c for c in self.checkpoints().values() if c)]
        cost = self.root / 'cost' / 'step_time.json'
        return {'report': self.baseline,
                'inputs': [file_stamp(p) for p in inputs + ([str(cost)] if cost.is_file()
                                                            else [])]}

    def run(self, ctx: Context, log: TextIO, on_line: LineSink, resume: bool) -> dict:
        from ..report import MethodRun, write_study_report
        from ..tabulate import study_rows
        from ..tabulate.cost import read_cost
        tables = self.root / 'tables'
        rows = study_rows([self.root], self.published, self.baseline)
        checkpoints = self.checkpoints()
        methods = [MethodRun(m.name, m.config, m.cfg_options, checkpoints[m.name])
                   for m in self.methods]
        write_study_report(self.root, tables, self.out, rows, methods, read_cost(self.root),
                           tables / 'training_curves.png')
        log.write(f'wrote {self.out}\n')
        return {'report.html': str(self.out)}
