"""Render rows as an aligned text table, Markdown, CSV and a LaTeX tabular.

Metric cells read `value (delta)`; missing values are blank, never 0. Published and
derived rows take their deltas against the published baseline, measured rows against
the measured baseline of their own study.
"""
import csv
import io
from typing import Optional

from .collect import METRICS, Row

HEADERS = ('Method', 'Provenance', *(m.header for m in METRICS),
           'PT cost (x base)', 'PT s/iter', 'Note')


def number(v: Optional[float], digits: int, sign: bool = False) -> str:
    return '' if v is None else f'{v:{"+" if sign else ""}.{digits}f}'


def metric_cell(row: Row, name: str) -> str:
    value, delta = row.values.get(name), row.delta(name)
    if value is None:
        return ''
    text = number(value, row.digits)
    return text if delta is None else f'{text} ({number(delta, row.digits, sign=True)})'


def cells(row: Row, times: str = 'x') -> list[str]:
    cost = number(row.values.get('cost'), 2)
    step = '' if row.step_time is None else f'{row.step_time:.3g}'
    return [row.method, row.provenance, *(metric_cell(row, m.name) for m in METRICS),
            cost + times if cost else '', step, row.note]


def sources(rows: list[Row]) -> list[str]:
    return [f'{r.method}: {r.source}' for r in rows if r.source]


def to_text(rows: list[Row]) -> str:
    """Plain aligned table with a rule between studies, then the sources."""
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
    return '\n'.join(out + [rule] + [f'[{s}]' for s in sources(rows)]) + '\n'


def to_markdown(rows: list[Row]) -> str:
    def line(items: list[str]) -> str:
        return '| ' + ' | '.join(c.replace('|', '\\|') for c in items) + ' |'

    align = ['---', '---', *['---:'] * (len(HEADERS) - 3), '---']
    out = [line(list(HEADERS)), line(align)] + [line(cells(r, times='×')) for r in rows]
    notes = ['', 'Cells read `value (delta vs baseline)`; published and derived rows are vs '
             'published MAE, measured rows vs the measured baseline of their study.', '']
    return '\n'.join(out + notes + [f'- {s}' for s in sources(rows)]) + '\n'


def to_csv(rows: list[Row]) -> str:
    """One column per value and per delta, full precision, blanks for missing values."""
    fields = ['study', 'method', 'provenance']
    for m in METRICS:
        fields += [m.name, f'{m.name}_delta']
    fields += ['cost', 'step_time_s', 'note', 'source']
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fields, lineterminator='\n')
    writer.writeheader()
    for r in rows:
        record = {'study': r.study, 'method': r.method, 'provenance': r.provenance,
                  'cost': r.values.get('cost'), 'step_time_s': r.step_time,
                  'note': r.note, 'source': r.source}
        for m in METRICS:
            record[m.name] = r.values.get(m.name)
            record[f'{m.name}_delta'] = r.delta(m.name)
        writer.writerow({k: '' if v is None else round(v, 6) if isinstance(v, float) else v
                         for k, v in record.items()})
    return buf.getvalue()


TEX_ESCAPES = {'\\': r'\textbackslash{}', '&': r'\&', '%': r'\%', '$': r'\$', '#': r'\#',
               '_': r'\_', '{': r'\{', '}': r'\}', '~': r'\textasciitilde{}',
               '^': r'\textasciicircum{}', '×': r'$\times$'}


def tex_escape(text: str) -> str:
    return ''.join(TEX_ESCAPES.get(c, c) for c in text)


def to_latex(rows: list[Row]) -> str:
    """A booktabs tabular (needs \\usepackage{booktabs}); sources as comments."""
    def line(items: list[str]) -> str:
        return ' & '.join(items) + r' \\'

    body = [line([tex_escape(c) for c in cells(r, times='×')]) for r in rows]
    spec = 'll' + 'r' * (len(HEADERS) - 3) + 'l'
    out = [r'\begin{tabular}{' + spec + '}', r'\toprule',
           line([tex_escape(h) for h in HEADERS]), r'\midrule', *body,
           r'\bottomrule', r'\end{tabular}']
    return '\n'.join(out + [f'% {s}' for s in sources(rows)]) + '\n'
