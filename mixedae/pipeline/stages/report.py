"""The study report: one self-contained HTML page (:mod:`mixedae.report`)."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ...study import Method, Study, file_stamp, finished_outputs, seed_folder
from .base import Attempt, Context, Stage


@dataclass
class ReportStage(Stage):
    """``report.html``: the table, deltas, costs, curves and a mix per method, with every
    figure embedded (the page stands alone). Runs in this process."""
    root: Path = Path()
    published: Path = Path()
    baseline: str = 'mae'
    bootstrap: dict = field(default_factory=dict)   # mixedae.tabulate.Bootstrap's settings
    methods: tuple[Method, ...] = ()

    @property
    def out(self) -> Path:
        return Study(self.root).report

    def checkpoints(self) -> dict[str, Optional[str]]:
        """Each pre-trained method's checkpoint (of its first seed, with seeds), from its
        pre-training stage's state file (whichever executor ran it; None if that stage has
        not finished)."""
        study = Study(self.root)
        folders = {m.name: study.task_dir(m.name, 'pretrain') for m in self.methods
                   if m.pretrains}
        folders.update({m.name: folders[m.name] / seed_folder(m.seeds[0])
                        for m in self.methods if m.seeds})   # the first seed's
        return {name: (finished_outputs(folder) or {}).get('checkpoint')
                for name, folder in folders.items()}

    def describe(self, ctx: Context) -> str:
        return f'report {self.root} -> {self.out}'

    def signature(self, ctx: Context) -> dict:
        study = Study(self.root)
        inputs = [*(finished_outputs(study.tables) or {}).values(),
                  *(c for c in self.checkpoints().values() if c)]
        if study.cost_file.is_file():
            inputs.append(str(study.cost_file))
        return {'report': self.baseline, 'bootstrap': self.bootstrap,
                'inputs': [file_stamp(p) for p in inputs]}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        from ...report import write_study_report   # the mixes: torch, the models
        from ...tabulate import Bootstrap, study_rows
        from ...tabulate.cost import read_cost
        study = Study(self.root)
        rows = study_rows([self.root], self.published, self.baseline,
                          bootstrap=Bootstrap(**self.bootstrap))
        write_study_report(self.root, study.tables, self.out, rows, self.methods,
                           self.checkpoints(), read_cost(self.root),
                           study.tables / 'training_curves.png')
        attempt.log.write(f'wrote {self.out}\n')
        return {'report.html': str(self.out)}
