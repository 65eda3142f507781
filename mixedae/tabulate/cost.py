"""The pre-training cost column: the study's side-by-side step-time measurement.

The cost stage (``tools/measure_cost.py``) writes ``ROOT/cost/step_time.json`` (see
:mod:`mixedae.benchmark.cost`): every method's training step timed interleaved in one
process on the study's device. A measured row's cost is its ratio there (median of the
per-round ratios to the baseline, with their interquartile range); without that file the
column stays blank: the step times the runs logged came from separate processes at
different moments and are shown for information only.
"""
import json
from pathlib import Path
from typing import Optional

from ..study import Study
from .rows import Row, TabulateError


def read_cost(root: Path) -> Optional[dict]:
    """The cost record of a study root (None if the cost stage has not run)."""
    path = Study(root).cost_file
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        for name, ratio in record['ratios'].items():
            float(ratio['median']), float(ratio['low']), float(ratio['high'])
        record['device_name'], record['clock'], record['methods']
    except (ValueError, KeyError, TypeError) as e:
        raise TabulateError(f'{path}: unreadable cost record ({e!r})') from None
    return record


def apply_cost(rows: list[Row], record: Optional[dict], label: str = '') -> None:
    """Set each measured row's cost, its range and the device it was measured on."""
    if record is None:
        return
    for row in rows:
        name = row.method[len(label) + 1:] if label else row.method
        ratio = record['ratios'].get(name)
        if ratio is not None:
            row.values['cost'] = ratio['median']
            row.cost_range = (ratio['low'], ratio['high'])
            row.cost_device = record['device_name']


def describe(record: dict) -> str:
    """One line on how the cost column was measured."""
    shapes = sorted({(m['batch'], m['img_size'], m['precision'])
                     for m in record['methods'].values()})
    shape = '; '.join(f'batch {b}, {px} px, {p}' for b, px, p in shapes)
    return (f'PT cost: training step time vs {record["baseline"]}, measured side by side in '
            f'one process on {record["device_name"]} ({shape}; {record["clock"]} time, '
            f'{record["repeats"]} interleaved rounds of {record["steps"]} step(s)): median '
            'of the per-round ratios [interquartile range]; PT s/iter is the logged step '
            'time, for information')
