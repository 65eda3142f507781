"""The measured rows of a study: each method's metrics, schedules and step time, read from
the work dirs of its tasks (:mod:`.runs`) and the pipeline's record of given weights.

See the package docstring for the work-dir layout.
"""
import json
import statistics
from pathlib import Path
from typing import Optional

from ..study import TASKS, Study, run_dirs
from .cost import apply_cost, read_cost
from .rows import METRICS, SHORT, Row, TabulateError
from .runs import find_metric, newest_train_run, pretrain_length, run_info, schedule, unlogged


def weights_source(path: Path) -> str:
    """'weights mae_pretrain_vit_base.pth sha256:0123456789ab' from a method's weights
    record (``weights.json``; '' where it has none); errors name the record file."""
    if not path.is_file():
        return ''
    try:
        record = json.loads(path.read_text())
        return f'weights {record["file"]} sha256:{record["sha256"][:12]}'
    except (ValueError, KeyError, TypeError) as e:
        raise TabulateError(f'{path}: unreadable weights record ({e!r})') from None


def provenance(schedules: dict[str, str], weights: str = '') -> str:
    """'measured (pt 2 iters, ft 1 epoch)'; plain 'measured' without train logs; the
    weights a method was given as follow a ';'."""
    parts = [f'{SHORT[t]} {s}' for t, s in schedules.items()]
    text = ', '.join(parts) + (f'; {weights}' if parts and weights else weights)
    return f'measured ({text})' if text else 'measured'


def read_method(task_dirs: dict[str, Path], name: str, study: str,
                weights: str = '') -> Row:
    """One measured row from the work dirs of a method's tasks (`<root>/<method>/<task>`
    or run folders given one by one): metrics with the protocol of the run each came
    from, schedules, step time, and the pre-trained backbone and length."""
    row = Row(name, '', study=study)
    schedules, unread = {}, []
    for task in TASKS:
        task_dir = task_dirs.get(task)
        if task_dir is None:
            continue
        run, lines = newest_train_run(task_dir)
        if lines:
            schedules[task] = schedule(lines)
        if task == 'pretrain' and lines:
            row.step_time = statistics.median(r['time'] for r in lines)
            row.arch = run_info(run).get('arch')
            row.pretrain_epochs = pretrain_length(run, lines)
        for m in METRICS:
            if m.task == task and (found := find_metric(task_dir, m.key)) is not None:
                row.values[m.name] = found[0] * m.scale
                if protocol := run_info(found[1]).get('protocol'):
                    row.protocols[task] = protocol
                    row.metric_runs[task] = found[1]
        if (silent := unlogged(task_dir)) is not None and not any(
                m.task == task and m.name in row.values for m in METRICS):
            unread.append(f'{task}/{silent.name}')
    row.provenance = provenance(schedules, weights)
    if unread:
        row.note = (f'no vis_data/scalars.json in {", ".join(unread)} (no LocalVisBackend in '
                    "the config's visualizer?): nothing read there")
    return row


def method_dirs(root: Path) -> list[Path]:
    """Folders of `root` holding at least one task folder; errors name `root`."""
    if not root.is_dir():
        raise TabulateError(f'{root}: work dir does not exist')
    found = Study(root).methods()
    if not found:
        raise TabulateError(f'{root}: no <method>/<task> folders (tasks: {", ".join(TASKS)})')
    return found


def check_runs(runs: dict[str, dict[str, Path]]) -> None:
    """Runs given one by one (`--run METHOD:TASK=PATH`): known tasks, existing folders
    that are or hold mmengine run folders; errors name the path."""
    for method, tasks in runs.items():
        for task, path in tasks.items():
            if task not in TASKS:
                raise TabulateError(f'--run {method}:{task}: unknown task; tasks: '
                                    f'{", ".join(TASKS)}')
            if not path.is_dir():
                raise TabulateError(f'{path}: run folder does not exist')
            if not run_dirs(path):
                raise TabulateError(f'{path}: neither an mmengine run folder (YYYYmmdd_HHMMSS) '
                                    'nor a work_dir holding one')


def collect(root: Optional[Path], baseline: str = 'mae', label: str = '',
            runs: Optional[dict[str, dict[str, Path]]] = None) -> list[Row]:
    """Measured rows of one study root and/or of runs given one by one (`runs`: method ->
    task -> a run folder or work_dir, e.g. made with mmseg's own tools/train.py; such a
    task replaces the root's); deltas are vs the `baseline` method, the cost is the
    study's side-by-side measurement (:mod:`.cost`), blank without one.

    Row names are `<label>/<method>` when a label is given (several roots), else `<method>`.
    """
    task_dirs: dict[str, dict[str, Path]] = {}
    weights: dict[str, str] = {}
    for method_dir in method_dirs(root) if root is not None else []:
        task_dirs[method_dir.name] = {t: method_dir / t for t in TASKS
                                      if (method_dir / t).is_dir()}
        weights[method_dir.name] = weights_source(Study(root).weights_record(method_dir.name))
    check_runs(runs or {})
    for method, tasks in (runs or {}).items():
        task_dirs.setdefault(method, {}).update(tasks)
    rows, base = [], None
    for method in sorted(task_dirs):
        name = f'{label}/{method}' if label else method
        rows.append(read_method(task_dirs[method], name, label or (root.name if root else ''),
                                weights.get(method, '')))
        if method == baseline:
            base = rows[-1]
    rows.sort(key=lambda r: r is not base)  # baseline first, then alphabetical
    for row in rows:
        row.baseline = base
    apply_cost(rows, read_cost(root) if root is not None else None, label)
    return rows
