"""Make the tiny datasets (``tools/make_tiny_datasets.py``)."""
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ...study.layout import TINY_DATASET_RECORD, TINY_DATASETS
from .base import Attempt, Context, Stage

GENERATOR = Path(__file__).resolve().parents[2] / 'data'   # mixedae/data: the scenes


@dataclass
class PrepareTinyDatasets(Stage):
    """Write the tiny ImageNet / COCO / ADE20K sets from ``seed`` where a folder is missing
    or was made with another seed or generator (the tool and ``mixedae/data/``, as each
    folder's ``tiny_dataset.json`` records): a study never trains on data an older
    generator made, and data that is current is left alone."""
    out: Path = Path('data/tiny')
    seed: int = 0
    sizes: dict = field(default_factory=dict)   # TINY_SIZES -> count (others: the demo's)

    def folders(self) -> dict[str, Path]:
        return {name: self.out / folder for name, folder in TINY_DATASETS.items()}

    def stamp(self, ctx: Context) -> str:
        """SHA-256 of the sizes, the tool and the generating package's files."""
        digest = hashlib.sha256(json.dumps(self.sizes, sort_keys=True).encode())
        for path in [ctx.tools / 'make_tiny_datasets.py', *sorted(GENERATOR.glob('*.py'))]:
            digest.update(path.name.encode() + b'\0' + path.read_bytes())
        return digest.hexdigest()

    def stale(self, ctx: Context) -> list[str]:
        """The datasets to (re)make."""
        wanted = {'seed': self.seed, 'stamp': self.stamp(ctx)}
        stale = []
        for name, folder in self.folders().items():
            try:
                current = json.loads((folder / TINY_DATASET_RECORD).read_text()) == wanted
            except (OSError, ValueError):
                current = False
            if not current:
                stale.append(name)
        return stale

    def command(self, ctx: Context, which: list[str]) -> list[str]:
        return [ctx.python, str(ctx.tools / 'make_tiny_datasets.py'), '--out', str(self.out),
                '--seed', str(self.seed), '--stamp', self.stamp(ctx), '--force',
                *(f'--{key.replace("_", "-")}={n}' for key, n in sorted(self.sizes.items())),
                '--which', *which]

    def describe(self, ctx: Context) -> str:
        stale = self.stale(ctx)
        return (f'tiny datasets in {self.out} (seed {self.seed}); to make: '
                f'{" ".join(stale) or "none"}')

    def signature(self, ctx: Context) -> dict:
        return {'tiny_datasets': str(self.out), 'seed': self.seed, 'stamp': self.stamp(ctx)}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        if stale := self.stale(ctx):
            attempt.run(self.command(ctx, stale), 'tools/make_tiny_datasets.py', ctx.env)
        return {name: str(path) for name, path in self.folders().items()}
