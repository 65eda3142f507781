"""Read final metrics and pre-training step times from mmengine work dirs.

See the package docstring for the work-dir layout. Every value is read from files
the Runner writes (mmengine's scalar logs and test dumps, and the ``run_info.json`` of
mixedae's ``RunInfoHook``: protocol, backbone, schedule) and the pipeline's record of given
weights (``weights.json``); nothing is taken from checkpoints or text logs.
"""
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

TASKS = ('pretrain', 'cls_finetune', 'cls_linear', 'det_coco', 'seg_ade20k')
RUN_DIR = re.compile(r'^\d{8}_\d{6}$')  # mmengine's timestamp folder: YYYYmmdd_HHMMSS
RUN_INFO = 'run_info.json'  # written by mixedae.engine.RunInfoHook
# <method>/convert/weights.json: the pre-trained weights a method was given as (file name,
# sha256), written by the pipeline's convert stage
WEIGHTS_FILE = 'weights.json'


class TabulateError(ValueError):
    """A work dir or data file that cannot be tabulated; the message names the path."""


@dataclass(frozen=True)
class Metric:
    """One table column: the scalar `key` logged for `task`, times `scale` gives percent."""
    name: str
    task: str
    key: str
    scale: float
    header: str


METRICS = (
    Metric('ft_top1', 'cls_finetune', 'accuracy/top1', 1.0, 'IN-1K ft top-1'),
    Metric('lin_top1', 'cls_linear', 'accuracy/top1', 1.0, 'IN-1K lin top-1'),
    Metric('ade_miou', 'seg_ade20k', 'mIoU', 1.0, 'ADE20K mIoU'),
    Metric('coco_box', 'det_coco', 'coco/bbox_mAP', 100.0, 'COCO AP box'),
    Metric('coco_mask', 'det_coco', 'coco/segm_mAP', 100.0, 'COCO AP mask'),
)


@dataclass
class Row:
    """One table row; `values` maps metric names (and 'cost', × baseline) to numbers."""
    method: str
    provenance: str  # 'published', 'derived' or 'measured (<schedules>)'
    values: dict[str, float] = field(default_factory=dict)
    baseline: Optional['Row'] = None
    step_time: Optional[float] = None  # measured pre-training seconds/iter
    no_delta: tuple[str, ...] = ()  # metrics whose protocol differs from the baseline's
    note: str = ''
    source: str = ''
    study: str = ''
    digits: int = 2
    cost_range: Optional[tuple[float, float]] = None  # interquartile range of 'cost'
    cost_device: str = ''  # where the cost was measured (the study's cost stage)
    protocols: dict[str, str] = field(default_factory=dict)  # task -> protocol id
    arch: Optional[str] = None  # pre-trained backbone, e.g. 'vit-base-p16'
    pretrain_epochs: Optional[int] = None  # length of the finished pre-training

    def delta(self, name: str) -> Optional[float]:
        """This row's value minus the baseline's, or None where either is missing."""
        base = self.baseline
        if base is None or base is self or name in self.no_delta:
            return None
        if name not in self.values or name not in base.values:
            return None
        return self.values[name] - base.values[name]


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


def run_dirs(task_dir: Path) -> list[Path]:
    """The timestamp folders of a task dir (a runner's work_dir), newest first; a
    timestamp folder itself is its only run."""
    if RUN_DIR.match(task_dir.name):
        return [task_dir]
    runs = [p for p in task_dir.iterdir() if p.is_dir() and RUN_DIR.match(p.name)]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def scalars(run: Path) -> list[dict]:
    path = run / 'vis_data' / 'scalars.json'
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


def find_metric(task_dir: Path, key: str) -> Optional[tuple[float, Path]]:
    """`key` from the newest run holding it (its test results, else its last val line),
    and that run."""
    for run in run_dirs(task_dir):
        tested = test_results(run)
        if key in tested:
            return float(tested[key]), run
        logged = [r[key] for r in scalars(run) if key in r and not is_train_line(r)]
        if logged:
            return float(logged[-1]), run
    return None


def unlogged(task_dir: Path) -> Optional[Path]:
    """The newest run of a task if no run of it wrote the local scalars file (a config
    whose visualizer has no LocalVisBackend), else None."""
    runs = run_dirs(task_dir)
    if runs and not any((run / 'vis_data' / 'scalars.json').is_file() for run in runs):
        return runs[0]
    return None


def pretrain_length(run: Path, lines: list[dict]) -> Optional[int]:
    """Epochs of a pre-training run that reached the end of its epoch schedule."""
    planned = run_info(run).get('schedule', {}).get('max_epochs')
    reached = max((r.get('epoch', 0) for r in lines), default=0)
    return planned if planned and reached == planned else None


SHORT = {'pretrain': 'pt', 'cls_finetune': 'ft', 'cls_linear': 'lin', 'det_coco': 'det',
         'seg_ade20k': 'seg'}


def weights_source(method_dir: Path) -> str:
    """'weights mae_pretrain_vit_base.pth sha256:0123456789ab' for a method given as a
    checkpoint ('' otherwise); errors name the record file."""
    path = method_dir / 'convert' / WEIGHTS_FILE
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
    found = sorted(p for p in root.iterdir()
                   if p.is_dir() and any((p / t).is_dir() for t in TASKS))
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
    from .cost import apply_cost, read_cost
    task_dirs: dict[str, dict[str, Path]] = {}
    weights: dict[str, str] = {}
    for method_dir in method_dirs(root) if root is not None else []:
        task_dirs[method_dir.name] = {t: method_dir / t for t in TASKS
                                      if (method_dir / t).is_dir()}
        weights[method_dir.name] = weights_source(method_dir)
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
