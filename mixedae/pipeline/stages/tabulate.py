"""The tables and plots of everything under the study root (missing results stay blank)."""
from dataclasses import dataclass, field
from pathlib import Path

from ...atomic_write import write_atomically
from ...study import STATE_FILE, Study, file_stamp
from ..process import StageError
from .base import Attempt, Context, Stage


@dataclass
class TabulateStage(Stage):
    """``mixedae.tabulate`` over the study root: it runs after every other stage, whatever
    became of them, and again whenever one of their state files or the cost record
    changed. Runs in this process (it imports no torch)."""
    root: Path = Path()
    published: Path = Path()
    baseline: str = 'mae'
    bootstrap: dict = field(default_factory=dict)   # mixedae.tabulate.Bootstrap's settings
    measured: tuple[Path, ...] = ()   # the folders of the stages whose results it reads
    after_all = True

    def inputs(self) -> list[Path]:
        files = [d / STATE_FILE for d in self.measured] + [Study(self.root).cost_file]
        return [f for f in files if f.is_file()]

    def describe(self, ctx: Context) -> str:
        return (f'tabulate {self.root} (baseline {self.baseline}) -> '
                f'{self.dir}/results.{{txt,md,csv,tex}}, deltas_vs_mae.png, '
                'accuracy_vs_cost.png, training_curves.png')

    def signature(self, ctx: Context) -> dict:
        return {'tabulate': self.baseline, 'bootstrap': self.bootstrap,
                'inputs': [file_stamp(p) for p in self.inputs()]}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        from ...tabulate import Bootstrap, TabulateError, tabulate
        try:
            text, written = tabulate([self.root], self.published, self.dir, self.baseline,
                                     bootstrap=Bootstrap(**self.bootstrap))
        except TabulateError as e:
            raise StageError(str(e)) from e
        table = self.dir / 'results.txt'
        write_atomically(table, text + '\n')
        attempt.log.write(text + '\n')
        return {path.name: str(path) for path in (table, *written)}
