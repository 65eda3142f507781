"""Make the tiny datasets that are absent (``tools/make_tiny_datasets.py``)."""
from dataclasses import dataclass
from pathlib import Path

from ...study.layout import TINY_DATASETS
from .base import Attempt, Context, Stage


@dataclass
class PrepareTinyDatasets(Stage):
    """Write the tiny ImageNet / COCO / ADE20K sets whose folders are missing or empty."""
    out: Path = Path('data/tiny')
    seed: int = 0

    def folders(self) -> dict[str, Path]:
        return {name: self.out / folder for name, folder in TINY_DATASETS.items()}

    def missing(self) -> list[str]:
        return [name for name, path in self.folders().items()
                if not (path.is_dir() and any(path.iterdir()))]

    def command(self, ctx: Context, which: list[str]) -> list[str]:
        return [ctx.python, str(ctx.tools / 'make_tiny_datasets.py'), '--out', str(self.out),
                '--seed', str(self.seed), '--which', *which]

    def describe(self, ctx: Context) -> str:
        missing = self.missing()
        return (f'tiny datasets in {self.out} (seed {self.seed}); to make: '
                f'{" ".join(missing) or "none"}')

    def signature(self, ctx: Context) -> dict:
        return {'tiny_datasets': str(self.out), 'seed': self.seed}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        missing = self.missing()
        if missing:
            attempt.run(self.command(ctx, missing), 'tools/make_tiny_datasets.py', ctx.env)
        return {name: str(path) for name, path in self.folders().items()}
