"""Render rows as an aligned text table, Markdown, CSV and a LaTeX tabular.

A measured cell reads `value [low, high] (delta [low, high])`: its confidence interval and
its delta against the measured baseline of its own study with the delta's paired
interval; `*` marks a delta whose interval excludes 0, and nothing else is marked. A
derived row's delta is against the published reference it was derived from (same
protocol); published rows are single numbers (no interval). Missing values are blank,
never 0. Under the table, each study says which protocols its tasks ran, what was
pre-trained, how the intervals were drawn and why a value has none.
"""
import csv
import io
from typing import Optional

from .rows import METRICS, SHORT, Row
from .findings import is_scratch, study_findings
from .published import Published

HEADERS = ('Method', 'Provenance', *(m.header for m in METRICS),
           'PT cost (x base)', 'PT s/iter', 'Note')


def number(v: Optional[float], digits: int, sign: bool = False) -> str:
    return '' if v is None else f'{v:{"+" if sign else ""}.{digits}f}'


def interval(low: float, high: float, digits: int, sign: bool = False) -> str:
    return f'[{number(low, digits, sign)}, {number(high, digits, sign)}]'


def metric_cell(row: Row, name: str) -> str:
    """'68.00 [63.87, 72.05] (-14.16 [-19.14, -9.38]*)'; parts that do not exist are left
    out."""
    value, delta = row.values.get(name), row.delta(name)
    if value is None:
        return ''
    text, d = number(value, row.digits), row.digits
    if (spread := row.intervals.get(name)) is not None:
        text += ' ' + interval(spread.low, spread.high, d)
    if (paired := row.paired.get(name)) is not None:
        mark = '*' if paired.resolved else ''
        return (f'{text} ({number(paired.value, d, sign=True)} '
                f'{interval(paired.low, paired.high, d, sign=True)}{mark})')
    return text if delta is None else f'{text} ({number(delta, d, sign=True)})'


def cost_cell(row: Row, times: str = 'x') -> str:
    """'1.04x' (published), '1.04x [1.02-1.06]' (measured: its interquartile range)."""
    cost = number(row.values.get('cost'), 2)
    if not cost:
        return ''
    if row.cost_range is None:
        return cost + times
    low, high = (number(v, 2) for v in row.cost_range)
    return f'{cost}{times} [{low}-{high}]'


def cells(row: Row, times: str = 'x') -> list[str]:
    step = '' if row.step_time is None else f'{row.step_time:.3g}'
    return [row.method, row.provenance, *(metric_cell(row, m.name) for m in METRICS),
            cost_cell(row, times), step, row.note]


def sources(rows: list[Row]) -> list[str]:
    return [f'{r.method} ({next(iter(r.protocols.values()), "")}): {r.source}'
            for r in rows if r.source]


def cost_note(study: str, measured: list[Row]) -> str:
    """Where a study's cost column comes from (or why it is blank)."""
    devices = sorted({r.cost_device for r in measured if r.cost_device})
    if devices:
        return (f'{study or "study"}: PT cost = training step time vs the baseline, timed '
                f'side by side in one process on {"; ".join(devices)} (the cost stage): '
                'median of the per-round ratios [interquartile range]; PT s/iter = the step '
                'time the run logged, for information only.')
    return (f'{study or "study"}: PT cost blank: no side-by-side measurement '
            '(tools/measure_cost.py, the cost stage); PT s/iter = the step time the run '
            'logged, for information only (separate processes: it follows the load).')


def uncertainty_notes(study: str, measured: list[Row]) -> list[str]:
    """How a study's intervals were drawn, and why a value or delta has none."""
    name = study or 'study'
    spreads = [s for r in measured for s in r.intervals.values()]
    notes = []
    if spreads:
        images = ', '.join(str(n) for n in sorted({s.images for s in spreads}))
        seeds = sorted({s.seeds for s in spreads})
        notes.append(
            f'{name}: [low, high] = {spreads[0].confidence:.0%} bootstrap interval '
            f'({spreads[0].resamples} resamples, percentile) over the evaluation images '
            f'({images} per task)'
            + (f'; with seeds (S = {", ".join(map(str, seeds))}) over the runs, then the '
               'images' if seeds != [1] else '')
            + '; a delta vs the baseline is resampled on the same images; * marks a delta '
            'whose interval excludes 0.')
    reasons: dict[str, list[str]] = {}
    for row in measured:
        for what, reason in row.no_interval.items():
            reasons.setdefault(reason, []).append(f'{row.method} {what}')
    notes += [f'{name}: no interval for {", ".join(where)}: {reason}'
              for reason, where in reasons.items()]
    return notes


def study_notes(rows: list[Row], titles: Optional[dict] = None) -> list[str]:
    """Per study: its backbone and pre-training length, each task's protocol, and how
    many references matched; then the titles of the protocols named."""
    notes, named = [], []
    for study in dict.fromkeys(r.study for r in rows):
        block = [r for r in rows if r.study == study]
        measured = [r for r in block if r.provenance.startswith('measured')]
        if not measured:
            continue
        tasks = {f'{SHORT[t]}={p}': p for r in measured for t, p in r.protocols.items()}
        named += [p for p in dict.fromkeys(tasks.values()) if p not in named]
        pretrain = sorted({f'{r.arch or "backbone not recorded"}, '
                           + (f'{r.pretrain_epochs} epochs' if r.pretrain_epochs else
                              'no finished epoch schedule recorded')
                           for r in measured if not is_scratch(r)})   # random init: none
        refs = len(block) - len(measured)
        found = (f'{refs} published reference(s) of the same protocol and pre-training '
                 'length beside it' if refs else 'no published reference of the same '
                 'protocol and pre-training length')
        notes.append(f'{study or "study"}: pre-trained '
                     f'{"; ".join(pretrain) or "nothing (random initialisation)"}; protocols '
                     f'{", ".join(tasks) or "not recorded"}; {found}.')
        notes += uncertainty_notes(study, measured)
        notes.append(cost_note(study, measured))
    notes += [f'protocol {p}: {titles[p]}' for p in named if titles and p in titles]
    return notes


def findings(rows: list[Row]) -> list[str]:
    """'What this study can tell', per study (see :mod:`.findings`)."""
    lines = []
    for study in dict.fromkeys(r.study for r in rows):
        found = study_findings([r for r in rows if r.study == study])
        if found:
            lines += [f'What {study or "this study"} can tell:', *found]
    return lines


def to_text(rows: list[Row], titles: Optional[dict] = None) -> str:
    """Plain aligned table with a rule between studies, then study notes and sources."""
    table = [list(HEADERS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]

    def fmt(line: list[str]) -> str:
        return '  '.join(c.ljust(w) if i < 2 or i == len(line) - 1 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths))).rstrip()

    rule = '-' * len(fmt(table[0]))
    out = [fmt(table[0])]
    for i, row in enumerate(rows):
        if i == 0 or row.study != rows[i - 1].study:
            out.append(rule)
        out.append(fmt(table[i + 1]))
    return '\n'.join(out + [rule] + study_notes(rows, titles)
                     + [f'[{s}]' for s in sources(rows)] + findings(rows)) + '\n'


def to_markdown(rows: list[Row], titles: Optional[dict] = None) -> str:
    def line(items: list[str]) -> str:
        return '| ' + ' | '.join(c.replace('|', '\\|') for c in items) + ' |'

    align = ['---', '---', *['---:'] * (len(HEADERS) - 3), '---']
    out = [line(list(HEADERS)), line(align)] + [line(cells(r, times='×')) for r in rows]
    notes = ['', 'Cells read `value [interval] (delta vs baseline [interval])`: measured '
             'rows vs the measured baseline of their study, derived rows vs the published '
             'row of the same protocol they were derived from; `*` marks a delta whose '
             'interval excludes 0. Published rows are single numbers from other codebases. '
             'A published row stands beside a study only where one of its tasks ran the '
             'same protocol on a backbone pre-trained for as many epochs.', '']
    told = findings(rows)
    return '\n'.join(out + notes + [f'- {n}' for n in study_notes(rows, titles)]
                     + [f'- {s}' for s in sources(rows)]
                     + ([''] + [f'- {t}' if not t.startswith('What') else f'**{t}**'
                                for t in told] if told else [])) + '\n'


def to_csv(rows: list[Row]) -> str:
    """One column per value and per delta, full precision, blanks for missing values."""
    fields = ['study', 'method', 'provenance', 'protocols', 'arch', 'pretrain_epochs']
    for m in METRICS:
        fields += [m.name, f'{m.name}_low', f'{m.name}_high', f'{m.name}_seeds',
                   f'{m.name}_delta', f'{m.name}_delta_low', f'{m.name}_delta_high',
                   f'{m.name}_delta_p', f'{m.name}_delta_excludes_0',
                   f'{m.name}_delta_prob_improvement']
    fields += ['cost', 'cost_low', 'cost_high', 'cost_device', 'step_time_s', 'note', 'source']
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fields, lineterminator='\n')
    writer.writeheader()
    for r in rows:
        record = {'study': r.study, 'method': r.method, 'provenance': r.provenance,
                  'protocols': ' '.join(f'{t}={p}' for t, p in r.protocols.items()),
                  'arch': r.arch, 'pretrain_epochs': r.pretrain_epochs,
                  'cost': r.values.get('cost'),
                  'cost_low': r.cost_range[0] if r.cost_range else None,
                  'cost_high': r.cost_range[1] if r.cost_range else None,
                  'cost_device': r.cost_device, 'step_time_s': r.step_time,
                  'note': r.note, 'source': r.source}
        for m in METRICS:
            spread, paired = r.intervals.get(m.name), r.paired.get(m.name)
            record.update({
                m.name: r.values.get(m.name),
                f'{m.name}_low': spread and spread.low, f'{m.name}_high': spread and spread.high,
                f'{m.name}_seeds': spread and spread.seeds,
                f'{m.name}_delta': r.delta(m.name),
                f'{m.name}_delta_low': paired and paired.low,
                f'{m.name}_delta_high': paired and paired.high,
                f'{m.name}_delta_p': paired and paired.p_value,
                f'{m.name}_delta_excludes_0': paired and paired.resolved,
                f'{m.name}_delta_prob_improvement': paired and paired.prob_improvement})
        writer.writerow({k: '' if v is None else round(v, 6) if isinstance(v, float) else v
                         for k, v in record.items()})
    return buf.getvalue()


TEX_ESCAPES = {'\\': r'\textbackslash{}', '&': r'\&', '%': r'\%', '$': r'\$', '#': r'\#',
               '_': r'\_', '{': r'\{', '}': r'\}', '~': r'\textasciitilde{}',
               '^': r'\textasciicircum{}', '×': r'$\times$'}


def tex_escape(text: str) -> str:
    return ''.join(TEX_ESCAPES.get(c, c) for c in text)


def to_latex(rows: list[Row], titles: Optional[dict] = None) -> str:
    """A booktabs tabular (needs \\usepackage{booktabs}); sources as comments."""
    def line(items: list[str]) -> str:
        return ' & '.join(items) + r' \\'

    body = [line([tex_escape(c) for c in cells(r, times='×')]) for r in rows]
    spec = 'll' + 'r' * (len(HEADERS) - 3) + 'l'
    out = [r'\begin{tabular}{' + spec + '}', r'\toprule',
           line([tex_escape(h) for h in HEADERS]), r'\midrule', *body,
           r'\bottomrule', r'\end{tabular}']
    return '\n'.join(out + [f'% {n}' for n in study_notes(rows, titles)]
                     + [f'% {s}' for s in sources(rows)]) + '\n'


def references_markdown(published: Published) -> str:
    """Every reference as one Markdown table, grouped by protocol (the README's table)."""
    metrics = [m for m in METRICS if any(m.name in r.values for r in published.references)]
    out = ['| protocol | backbone | pre-training | method | '
           + ' | '.join(m.header for m in metrics) + ' | provenance | source |',
           '|---|---|---|---|' + '---:|' * len(metrics) + '---|---|']
    for pid in published.protocols:
        for r in (r for r in published.references if pid in r.protocols.values()):
            out.append(f'| {pid} | {r.arch} | {r.pretrain_epochs} ep | {r.method} | '
                       + ' | '.join(metric_cell(r, m.name) for m in metrics)
                       + f' | {r.provenance} | {r.source} |')
    titles = [f'- `{p.id}`: {p.title}' for p in published.protocols.values()]
    return '\n'.join(out + [''] + titles) + '\n'
