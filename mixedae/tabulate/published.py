"""Published reference rows, and the rows derived from published deltas.

`benchmarks/published_results.json` holds one entry per method with its `source`.
An entry with `values` only is a `published` row. An entry with `deltas` and
`relative_to` gives the differences a paper reports against another method; its
absolute values (base value + delta) are computed here and labelled `derived`.
"""
import json
from pathlib import Path

from .collect import METRICS, Row, TabulateError

KNOWN = {m.name for m in METRICS} | {'cost'}


def check_names(path: Path, entry: dict) -> None:
    for name in (*entry.get('values', {}), *entry.get('deltas', {})):
        if name not in KNOWN:
            raise TabulateError(f'{path}: {entry["method"]}: unknown metric {name!r} '
                                f'(known: {", ".join(sorted(KNOWN))})')


def derive(entry: dict, base: Row) -> dict[str, float]:
    """Absolute values implied by `entry`'s deltas on top of `base`'s values."""
    values = {k: round(base.values[k] + d, 1)
              for k, d in entry['deltas'].items() if k in base.values}
    return {**values, **entry.get('values', {})}


def load_published(path: Path) -> list[Row]:
    """Published and derived rows; deltas of every row are vs the file's `baseline`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TabulateError(f'{path}: cannot read published results ({e})') from None
    rows: dict[str, Row] = {}
    for entry in data['rows']:
        check_names(path, entry)
        if 'deltas' in entry:
            if entry.get('relative_to') not in rows:
                raise TabulateError(f'{path}: {entry["method"]}: relative_to must name an '
                                    'earlier entry')
            values, label = derive(entry, rows[entry['relative_to']]), 'derived'
        else:
            values, label = dict(entry['values']), 'published'
        rows[entry['method']] = Row(entry['method'], label, values,
                                    no_delta=tuple(entry.get('no_delta', ())),
                                    note=entry.get('note', ''), source=entry['source'],
                                    study='published', digits=1)
    base = rows.get(data['baseline'])
    for row in rows.values():
        row.baseline = base
    return list(rows.values())

