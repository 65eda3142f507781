"""Published references, keyed by protocol, and which of them a measured row may sit beside.

`benchmarks/published_results.json` names each protocol (`protocols`: id -> task and
title) and holds one entry per published result (`references`): method, protocol,
backbone (`arch`, e.g. `vit-base-p16`), pre-training epochs, values and `source`. An entry
with `deltas` and `relative_to` gives the differences a paper reports against another
method; its values are added to that method's reference of the *same* protocol, backbone
and pre-training length and labelled `derived` (a delta is never carried to another
protocol). A protocol with references states its `recipe` (:mod:`.recipe`). A measured
row gets a reference beside it only where one of its tasks ran that reference's protocol
on a backbone of the same architecture and pre-training length, and that task's run
matched the recipe (:mod:`.protocol_check`); the row's note names each difference
(`matching_references`).
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..study import TASKS
from .protocol_check import Verdict, check_run
from .recipe import Recipe, read_recipe
from .rows import METRICS, Row, TabulateError

METRIC_TASK = {m.name: m.task for m in METRICS}
ENTRY_KEYS = {'method', 'protocol', 'arch', 'pretrain_epochs', 'values', 'deltas',
              'relative_to', 'source', 'note'}
PROTOCOL_KEYS = {'task', 'title', 'recipe', 'not_checked'}


@dataclass(frozen=True)
class Protocol:
    """A transfer recipe as one codebase ran it; `task` is one of collect.TASKS or ''.
    `recipe`: the facts a run must share with it (None: no recipe given)."""
    id: str
    task: str
    title: str
    recipe: Optional[Recipe] = field(default=None, compare=False)


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
        unknown = sorted(set(entry) - PROTOCOL_KEYS)
        if unknown:
            raise fail(path, f'protocols.{pid}', f'unknown key(s) {unknown}')
        task = entry.get('task', '')
        if task and task not in TASKS:
            raise fail(path, f'protocols.{pid}.task', f'unknown task {task!r} '
                       f'(known: {", ".join(TASKS)})')
        recipe = None
        if 'recipe' in entry or 'not_checked' in entry:
            try:
                recipe = read_recipe(entry.get('recipe', {}), entry.get('not_checked', {}))
            except ValueError as e:
                raise fail(path, f'protocols.{pid}', str(e)) from None
        protocols[pid] = Protocol(pid, task, entry.get('title', pid), recipe)
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
    for pid in dict.fromkeys(next(iter(r.protocols.values())) for r in references):
        if protocols[pid].recipe is None:
            raise fail(path, f'protocols.{pid}', 'has published references but no "recipe" '
                       '(the facts a run must share with it, each with its source; '
                       '"not_checked" names those no source states)')
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


def add_note(row: Row, text: str) -> None:
    """Append `text` to the row's note (once)."""
    if text and text not in row.note:
        row.note = f'{row.note}. {text}' if row.note else text


def task_run(row: Row, task: str) -> Optional[Path]:
    """The run a task's metrics came from (the first seed's, with seeds)."""
    return next((found[0].run for m in METRICS if m.task == task
                 and (found := row.evidence.get(m.name))), None)


def recipe_verdicts(measured: list[Row], published: Published) -> dict[tuple[int, str], Verdict]:
    """For each task of a measured row that some reference matches by protocol, backbone
    and pre-training length: its run against the protocol's recipe (keyed by
    (id(row), task)); each verdict is also added to its row's note."""
    verdicts: dict[tuple[int, str], Verdict] = {}
    for ref in published.references:
        for row in measured:
            for task in matches(ref, row):
                if (id(row), task) in verdicts:
                    continue
                recipe = published.protocols[row.protocols[task]].recipe
                verdicts[id(row), task] = check_run(task_run(row, task), recipe, ref.arch)
                add_note(row, verdicts[id(row), task].note(task))
    return verdicts


def matching_references(measured: list[Row], published: Published) -> list[Row]:
    """The references that belong beside some of `measured`, each noting which rows and
    tasks it matches; in the file's order. A task whose run differs from the protocol's
    recipe gets none, and its row's note names the differences (or what could not be
    verified)."""
    verdicts = recipe_verdicts(measured, published)
    found = []
    for ref in published.references:
        hits = [f'{row.method} {task}' for row in measured for task in matches(ref, row)
                if not verdicts[id(row), task].differences]
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
