"""The study report: one HTML page with the table, deltas, costs, curves and one mix per
method (the pipeline's last stage writes it; everything embedded)."""
import time
from pathlib import Path
from typing import Optional, Sequence

from ..atomic_write import write_atomically
from ..study import Method
from ..tabulate.render import HEADERS, cells, findings, study_notes
from ..tabulate.rows import Row
from .mixes import try_method_figure
from .page import escape, figure, page, paragraph, section, table


def results_section(rows: Sequence[Row]) -> str:
    """Measured rows and published references in two tables (never mixed)."""
    measured = [r for r in rows if r.provenance.startswith('measured')]
    published = [r for r in rows if not r.provenance.startswith('measured')]
    notes = study_notes(rows)
    parts = [table(HEADERS, [cells(r, times='×') for r in measured], 'results',
                   numeric_from=2) if measured else paragraph('No measured results yet.'),
             paragraph('Cells read "value [interval] (delta vs the measured baseline of '
                       'this study [paired interval])"; * marks a delta whose interval '
                       'excludes 0; a blank cell is a result that does not exist.',
                       note=True),
             *(paragraph(n, note=True) for n in notes)]
    if published:
        parts += ['<h3>Published references of the same protocols and pre-training '
                  'length</h3>',
                  table(HEADERS, [cells(r, times='×') for r in published], 'published',
                        numeric_from=2),
                  '<ul>' + ''.join(f'<li>{escape(r.method)}: {escape(r.source)}</li>'
                                   for r in published if r.source) + '</ul>']
    return section('Results', *parts)


def findings_section(rows: Sequence[Row]) -> str:
    """'What this study can tell', from the intervals (mixedae.tabulate.findings)."""
    lines = findings(rows)
    if not lines:
        return section('What this study can tell', paragraph(
            'Nothing yet: no delta against the baseline has a paired interval (a study '
            'needs a baseline and per-sample results of the same evaluation images).'))
    items = ''.join(f'<li>{escape(line.strip())}</li>' for line in lines
                    if not line.startswith('What '))
    return section('What this study can tell', f'<ul>{items}</ul>')


def cost_section(cost: Optional[dict], rows: Sequence[Row], tables: Path) -> str:
    """The side-by-side step-time measurement; the logged step times for information."""
    if cost is None:
        parts = [paragraph('No cost measurement (the cost stage did not run): the study has '
                           'no pre-training cost column.')]
    else:
        ratios = cost.get('ratios', {})
        body = []
        for name, m in cost['methods'].items():
            r = ratios.get(name)
            body.append([name, f'{m["seconds"] * 1e3:.1f}',
                         f'{r["median"]:.3f}× [{r["low"]:.3f}, {r["high"]:.3f}]' if r else '',
                         str(m['batch']), str(m['img_size']), m['precision']])
        body += [[name, 'not measured', error, '', '', '']
                 for name, error in cost.get('failed', {}).items()]
        parts = [table(['Method', f'step ms ({cost["clock"]} time, median)',
                        f'vs {cost["baseline"]} [IQR]', 'batch', 'px', 'precision'],
                       body, 'cost'),
                 paragraph(f'Measured side by side in one process on {cost["device_name"]} '
                           f'({cost["device"]}, torch {cost["torch"]}): {cost["warmup"]} '
                           f'warm-up step(s) each, then {cost["repeats"]} interleaved rounds '
                           f'of {cost["steps"]} step(s) per method; a ratio is the median of '
                           'the per-round ratios, with their interquartile range.',
                           note=True)]
    logged = [[r.method, f'{r.step_time:.4g}'] for r in rows if r.step_time is not None]
    if logged:
        parts += [paragraph('For information only, the median step time each pre-training '
                            'run logged (separate processes at different moments: it '
                            'measures the machine\'s load as much as the method):', note=True),
                  table(['Method', 'logged s/iter'], logged, 'logged-step-time')]
    if (tables / 'accuracy_vs_cost.png').is_file():
        parts.append(figure(tables / 'accuracy_vs_cost.png',
                            'Transfer results against the measured pre-training cost'))
    return section('Pre-training cost', *parts)


def mixes_section(methods: Sequence[Method], checkpoints: dict[str, Optional[str]],
                  out_dir: Path) -> str:
    """One figure per pre-trained method, from the checkpoint its pre-training saved."""
    parts = []
    for method in methods:
        png = out_dir / f'figure_{method.name}.png'
        if not method.pretrains:
            what = 'random initialisation' if method.kind == 'scratch' else 'given as weights'
            parts.append(paragraph(f'{method.name}: {what}, no pre-training config to '
                                   'rebuild its model with', note=True))
            continue
        made, text = try_method_figure(checkpoints.get(method.name), method.load_config(),
                                       png)
        parts.append(figure(png, f'{method.name}: {text}') if made
                     else paragraph(f'{method.name}: no figure: {text}', note=True))
    return section('What each method does with its images: one mix (tools/visualize.py), '
                   'or MAE\'s masking', *parts)


def write_study_report(root: Path, tables: Path, out: Path, rows: Sequence[Row],
                       methods: Sequence[Method], checkpoints: dict[str, Optional[str]],
                       cost: Optional[dict] = None, curves: Optional[Path] = None) -> Path:
    """Write ``out`` (HTML); figures it makes go beside it. ``checkpoints``: each
    pre-trained method's checkpoint (None where its pre-training has not finished).
    Returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    header = paragraph(f'Study {root}, methods {", ".join(m.name for m in methods)}; '
                       f'written {time.strftime("%Y-%m-%d %H:%M:%S")}.', note=True)
    sections = [header, results_section(rows), findings_section(rows)]
    if (tables / 'deltas_vs_mae.png').is_file():
        sections.append(section('Deltas', figure(
            tables / 'deltas_vs_mae.png', 'Measured deltas vs the measured baseline (left); '
            'published deltas vs published MAE (right)')))
    sections.append(cost_section(cost, rows, tables))
    if curves is not None and curves.is_file():
        sections.append(section('Training curves', figure(
            curves, 'Pre-training scalars as logged (vis_data/scalars.json)')))
    sections.append(mixes_section(methods, checkpoints, out.parent))
    write_atomically(out, page(f'MixedAE study report: {root.name}', *sections))
    return out
