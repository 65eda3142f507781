"""Read what an mmengine run folder holds: its logged scalars, its test metrics and the
``run_info.json`` of mixedae's ``RunInfoHook``. Nothing is taken from checkpoints or text
logs."""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..study import RUN_INFO, SCALARS, run_dirs
from .rows import TabulateError


def read_json_lines(path: Path) -> list[dict]:
    """Parse a JSON-lines file such as `vis_data/scalars.json`; errors name file and line."""
    records = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise TabulateError(f'{path}:{lineno}: corrupt JSON line ({e.msg})') from None
    return records


def scalars(run: Path) -> list[dict]:
    path = run / SCALARS
    return read_json_lines(path) if path.is_file() else []


def test_results(run: Path) -> dict:
    """The metrics `tools/test.py` dumps to `<run>/<run>.json` (empty if absent)."""
    path = run / f'{run.name}.json'
    if not path.is_file():
        return {}
    records = read_json_lines(path)
    return records[-1] if records else {}


def is_train_line(record: dict) -> bool:
    return 'lr' in record and 'time' in record


def run_info(run: Path) -> dict:
    """What RunInfoHook recorded for a run (protocol, arch, schedule, batch); {} if absent."""
    path = run / RUN_INFO
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise TabulateError(f'{path}: corrupt run info ({e.msg})') from None
    if not isinstance(info, dict):
        raise TabulateError(f'{path}: run info is not a JSON object')
    return info


def newest_train_run(task_dir: Path) -> tuple[Optional[Path], list[dict]]:
    """The newest run that has train lines, and those lines."""
    for run in run_dirs(task_dir):
        lines = [r for r in scalars(run) if is_train_line(r)]
        if lines:
            return run, lines
    return None, []


def train_lines(task_dir: Path) -> list[dict]:
    """Train lines of the newest run that has any."""
    return newest_train_run(task_dir)[1]


def schedule(lines: list[dict]) -> str:
    """How far training went, e.g. '2 iters' or '1 epoch' ('' without train lines)."""
    if not lines:
        return ''
    unit = 'epoch' if 'epoch' in lines[-1] else 'iter'
    n = max(r[unit] for r in lines)
    return f'{n} {unit}' + ('s' if n != 1 else '')


@dataclass(frozen=True)
class Found:
    """A logged metric value, the run folder it is in and the evaluation that made it
    (``test``: tools/test.py, ``val``: the run's last validation)."""
    value: float
    run: Path
    mode: str


def find_metric(task_dir: Path, key: str) -> Optional[Found]:
    """`key` from the newest run holding it: its test results, else its last val line."""
    for run in run_dirs(task_dir):
        tested = test_results(run)
        if key in tested:
            return Found(float(tested[key]), run, 'test')
        logged = [r[key] for r in scalars(run) if key in r and not is_train_line(r)]
        if logged:
            return Found(float(logged[-1]), run, 'val')
    return None


def unlogged(task_dir: Path) -> Optional[Path]:
    """The newest run of a task if no run of it wrote the local scalars file (a config
    whose visualizer has no LocalVisBackend), else None."""
    runs = run_dirs(task_dir)
    if runs and not any((run / SCALARS).is_file() for run in runs):
        return runs[0]
    return None


def pretrain_length(run: Path, lines: list[dict]) -> Optional[int]:
    """Epochs of a pre-training run that reached the end of its epoch schedule."""
    planned = run_info(run).get('schedule', {}).get('max_epochs')
    reached = max((r.get('epoch', 0) for r in lines), default=0)
    return planned if planned and reached == planned else None
