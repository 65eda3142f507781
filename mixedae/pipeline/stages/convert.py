"""Convert pre-trained weights for each downstream codebase (``<target>.pth``)."""
import hashlib
import json
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ...atomic_write import write_atomically
from ...study import file_stamp
from ...study.layout import WEIGHTS_RECORD
from ..process import StageError
from .base import Attempt, Context, Stage


@dataclass
class ConvertStage(Stage):
    """Convert the ``source`` stage's checkpoint, or ``source_file`` (weights the user
    holds, in any format the converter reads: their name, sha256 and whether they were
    trained with labels go to ``weights.json`` for the table). Runs in this process."""
    source: str = ''
    source_file: Optional[Path] = None
    supervised: bool = False
    targets: tuple[str, ...] = ()

    def out(self, target: str) -> Path:
        return self.dir / f'{target}.pth'

    def source_path(self, ctx: Context) -> str:
        return str(self.source_file) if self.source_file else ctx.output(self.source,
                                                                         'checkpoint')

    def describe(self, ctx: Context) -> str:
        outs = ', '.join(str(self.out(t)) for t in self.targets)
        return f'convert {self.source_path(ctx)} -> {outs}'

    def signature(self, ctx: Context) -> dict:
        return {'convert': list(self.targets), 'supervised': self.supervised,
                'inputs': [file_stamp(self.source_path(ctx))]}

    def run(self, ctx: Context, attempt: Attempt) -> dict[str, str]:
        from ...convert import convert_checkpoint   # torch: only when converting
        source = self.source_path(ctx)
        outputs = {}
        with redirect_stdout(attempt.log), redirect_stderr(attempt.log):
            for target in self.targets:
                print(f'$ convert_checkpoint({source!r}, {target!r}, {str(self.out(target))!r})')
                try:
                    report = convert_checkpoint(source, target, str(self.out(target)))
                except Exception as e:
                    traceback.print_exc()
                    raise StageError(f'converting to {target}: {type(e).__name__}: {e}') from e
                print(report)
                outputs[target] = str(self.out(target))
        record = self.dir / WEIGHTS_RECORD
        if self.source_file:
            self.write_weights_record(record, report.source)
            outputs['weights'] = str(record)
        else:   # a pre-trained method now: the table must not name earlier given weights
            record.unlink(missing_ok=True)
        return outputs

    def write_weights_record(self, record: Path, description: str) -> None:
        """The given file's name, path, sha256 and format, and whether it is supervised."""
        with open(self.source_file, 'rb') as f:
            sha256 = hashlib.file_digest(f, 'sha256').hexdigest()
        write_atomically(record, json.dumps(dict(
            file=self.source_file.name, path=str(self.source_file), sha256=sha256,
            format=description, supervised=self.supervised), indent=1) + '\n')
