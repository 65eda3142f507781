"""Published references, keyed by protocol, and which of them a measured row may sit beside.

`benchmarks/published_results.json` names each protocol (`protocols`: id -> task and
title) and holds one entry per published result (`references`): method, protocol,
backbone (`arch`, e.g. `vit-base-p16`), pre-training epochs, values and `source`. An entry
with `deltas` and `relative_to` gives the differences a paper reports against another
method; its values are added to that method's reference of the *same* protocol, backbone
and pre-training length and labelled `derived` (a delta is never carried to another
protocol). A measured row gets a reference beside it only where one of its tasks ran that
reference's protocol on a backbone of the same architecture and pre-training length
(`matching_references`).
"""
import json
from dataclasses import dataclass
from pathlib import Path

from ..study import TASKS
from .rows import METRICS, Row, TabulateError

METRIC_TASK = {m.name: m.task for m in METRICS}
ENTRY_KEYS = {'method', 'protocol', 'arch', 'pretrain_epochs', 'values', 'deltas',
              'relative_to', 'source', 'note'}


@dataclass(frozen=True)
class Protocol:
    """A transfer recipe as one codebase ran it; `task` is one of collect.TASKS or ''."""
    id: str
    task: str
    title: str


@dataclass
class Published:
    """The protocols and the published/derived reference rows of the JSON file."""
    protocols: dict[str, Protocol]
    references: list[Row]


def fail(path: Path, where: str, message: str) -> TabulateError:
    return TabulateError(f'{path}: {where}: {message}')


def read_protocols(path: Path, data: dict) -> dict[str, Protocol]:
    protocols = {}
    for pid, entry in data.get('protocols', {}).items():
        task = entry.get('task', '')
        if task and task not in TASKS:
            raise fail(path, f'protocols.{pid}.task', f'unknown task {task!r} '
                       f'(known: {", ".join(TASKS)})')
        protocols[pid] = Protocol(pid, task, entry.get('title', pid))
    return protocols


def check_entry(path: Path, where: str, entry: dict, protocols: dict) -> Protocol:
    """The entry's protocol; every key, metric and number checked, errors name them."""
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise fail(path, where, f'unknown key(s) {unknown}')
    for key in ('method', 'protocol', 'arch', 'pretrain_epochs', 'source'):
        if not entry.get(key):
            raise fail(path, where, f'missing {key!r} (every number names its source)')
    protocol = protocols.get(entry['protocol'])
    if protocol is None:
        raise fail(path, where, f'protocol {entry["protocol"]!r} is not in "protocols"')
    if ('deltas' in entry) == ('values' in entry) or ('deltas' in entry) != (
            'relative_to' in entry):
        raise fail(path, where, 'give either "values" or "deltas" with "relative_to"')
    for name, value in {**entry.get('values', {}), **entry.get('deltas', {})}.items():
        if METRIC_TASK.get(name) != protocol.task:
            raise fail(path, where, f'metric {name!r} is not a {protocol.task or "no"} '
                       f'metric of protocol {protocol.id!r}')
        if not isinstance(value, (int, float)):
            raise fail(path, where, f'{name} = {value!r} is not a number')
    return protocol


def decimals(values: dict) -> int:
    """As many decimals as the most precise published value (at least one)."""
    return max([1] + [len(repr(float(v)).split('.')[1]) for v in values.values()])


def reference_key(row: Row) -> tuple:
    return row.method, tuple(row.protocols.items()), row.arch, row.pretrain_epochs


def load_published(path: Path) -> Published:
    """Protocols and reference rows; a derived row's baseline is its same-key base row."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TabulateError(f'{path}: cannot read published results ({e})') from None
    protocols = read_protocols(path, data)
    rows: dict[tuple, Row] = {}
    references = []
    for i, entry in enumerate(data.get('references', [])):
        where = f'references[{i}] ({entry.get("method")}, {entry.get("protocol")})'
        protocol = check_entry(path, where, entry, protocols)
        row = Row(entry['method'], 'published', dict(entry.get('values', {})),
                  note=entry.get('note', ''), source=entry['source'], study='published',
                  protocols={protocol.task: protocol.id}, arch=entry['arch'],
                  pretrain_epochs=entry['pretrain_epochs'])
        if 'deltas' in entry:
            base = rows.get((entry['relative_to'], *reference_key(row)[1:]))
            if base is None:
                raise fail(path, where, f'relative_to {entry["relative_to"]!r} needs an '
                           'earlier reference of the same protocol, arch and '
                           'pretrain_epochs (deltas are never carried across protocols)')
            missing = sorted(set(entry['deltas']) - set(base.values))
            if missing:
                raise fail(path, where, f'{base.method} ({base.source}) has no {missing}')
            row.provenance, row.baseline = 'derived', base
            row.values = {k: round(base.values[k] + d, decimals(base.values))
                          for k, d in entry['deltas'].items()}
        else:
            row.baseline = row
        row.digits = decimals(row.values)
        rows.setdefault(reference_key(row), row)
        references.append(row)
    return Published(protocols, references)


def matches(reference: Row, row: Row) -> list[str]:
    """Tasks of the measured `row` that ran `reference`'s protocol on the same backbone
    and pre-training length (empty: the reference does not belong beside `row`)."""
    if row.arch is None or row.pretrain_epochs is None:
        return []
    if (reference.arch, reference.pretrain_epochs) != (row.arch, row.pretrain_epochs):
        return []
    return [task for task, pid in reference.protocols.items()
            if row.protocols.get(task) == pid]


def matching_references(measured: list[Row], published: Published) -> list[Row]:
    """The references that belong beside some of `measured`, each noting which rows and
    tasks it matches; in the file's order."""
    found = []
    for ref in published.references:
        hits = [f'{row.method} {task}' for row in measured for task in matches(ref, row)]
        if hits:
            pid = next(iter(ref.protocols.values()))
            found.append(Row(ref.method, f'{ref.provenance} ({pid})', ref.values,
                             baseline=ref.baseline, note=f'same protocol, {ref.arch}, '
                             f'{ref.pretrain_epochs}-ep pre-training as: {", ".join(hits)}',
                             source=ref.source, study=measured[0].study, digits=ref.digits,
                             protocols=ref.protocols, arch=ref.arch,
                             pretrain_epochs=ref.pretrain_epochs))
    for row in found:   # a derived row keeps its delta against the base shown beside it
        base = next((r for r in found if r.provenance.startswith('published')
                     and reference_key(r)[1:] == reference_key(row)[1:]
                     and r.method == row.baseline.method), None)
        row.baseline = base if row.provenance.startswith('derived') else row
    return found
