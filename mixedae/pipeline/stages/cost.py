"""The methods' pre-training steps timed side by side (``tools/measure_cost.py``)."""
from dataclasses import dataclass, field
from pathlib import Path

from ...study import Method, Study
from ..digest import config_digest
from .base import Attempt, Context, Stage


@dataclass
class CostStage(Stage):
    """Every pre-trained method's training step timed side by side in one process, on
    the device the training stages use, at their model, resolution and per-device batch
    (one process on one device: never under torchrun or srun). Its record
    (``ROOT/cost/step_time.json``) is the tables' cost column."""
    pipeline: Path = Path()
    work_root: Path = Path()
    methods: tuple[Method, ...] = ()
    settings: dict = field(default_factory=dict)
    trains = True   # where training runs: on an accelerator node

    @property
    def out(self) -> Path:
        return Study(self.work_root).cost_file

    def command(self, ctx: Context) -> list[str]:
        return [ctx.python, str(ctx.tools / 'measure_cost.py'), str(self.pipeline),
                '--work-root', str(self.work_root), '--out', str(self.out)]

    def describe(self, ctx: Context) -> str:
        return ' '.join(self.command(ctx))

    def signature(self, ctx: Context) -> dict:
        return {'measure_cost': self.command(ctx)[1:], 'settings': self.settings,
                'methods': {m.name: [config_digest(m.config), m.cfg_options]
                            for m in self.methods}}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        attempt.run(self.command(ctx), 'tools/measure_cost.py', ctx.env)
        return {'step_time': str(self.out)}
