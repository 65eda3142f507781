"""PNG figures drawn with matplotlib's Agg canvas (no display, no global backend switch)."""
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..atomic_write import atomic_output
from .rows import METRICS, Row

MARKERS = {'published': 'o', 'derived': 's', 'measured': '^'}


def kind(row: Row) -> str:
    """'published', 'derived' or 'measured' (drops the schedule)."""
    return row.provenance.split(' ')[0]


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout='constrained')
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path, dpi: int = 120) -> None:
    """Write the figure as a PNG that a reader sees whole or not at all."""
    with atomic_output(path) as f:
        fig.savefig(f, format='png', dpi=dpi)


def empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha='center', va='center', transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def delta_bars(ax: Axes, rows: list[Row], title: str, what: str, hatch: str = '') -> None:
    """Grouped bars: one group per metric, one bar per row's delta vs its baseline, with
    the delta's paired interval as an error bar where there is one (`*`: it excludes 0)."""
    ax.set_title(title, fontsize=10)
    metrics = [m for m in METRICS if any(r.delta(m.name) is not None for r in rows)]
    rows = [r for r in rows if any(r.delta(m.name) is not None for m in metrics)]
    if not rows:
        return empty(ax, 'no deltas to show')
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        shift = (i - (len(rows) - 1) / 2) * width
        shown = [(j + shift, d, row.paired.get(m.name)) for j, m in enumerate(metrics)
                 if (d := row.delta(m.name)) is not None]
        xs, ds, paired = zip(*shown)
        errors = [[d - p.low if p else 0 for d, p in zip(ds, paired)],
                  [p.high - d if p else 0 for d, p in zip(ds, paired)]]
        bars = ax.bar(xs, ds, width, hatch=hatch, yerr=errors if any(paired) else None,
                      capsize=3, label=f'{row.method} - {row.baseline.method} ({what})')
        ax.bar_label(bars, labels=[f'{d:+.2f}' + ('*' if p and p.resolved else '')
                                   for d, p in zip(ds, paired)], fontsize=7)
    ax.set_xticks(range(len(metrics)), [m.header for m in metrics], rotation=15, fontsize=8)
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_ylabel('delta (points)')
    ax.legend(fontsize=7)


def plot_deltas(rows: list[Row], path: Path) -> None:
    """Left: measured deltas vs the measured baseline; right: published deltas of the
    derived rows in `rows` (each vs the published row of its own protocol)."""
    measured = [r for r in rows if kind(r) == 'measured' and r.baseline not in (None, r)]
    derived = [r for r in rows if kind(r) == 'derived']
    fig = new_figure(12, 4.5)
    left, right = fig.subplots(1, 2)
    delta_bars(left, measured, 'Measured: delta vs measured baseline (bars: paired 95% '
               'interval; *: excludes 0)', 'measured')
    delta_bars(right, derived, 'Published: delta vs same-protocol reference', 'published',
               hatch='//')
    save_figure(fig, path)


def plot_accuracy_vs_cost(rows: list[Row], path: Path) -> None:
    """One panel per transfer metric: value vs pre-training cost (x baseline), cf. Fig. 1."""
    metrics = [m for m in METRICS if any('cost' in r.values and m.name in r.values
                                         for r in rows)]
    fig = new_figure(4.5 * max(len(metrics), 1), 4.5)
    axes = fig.subplots(1, max(len(metrics), 1), squeeze=False)[0]
    if not metrics:
        empty(axes[0], 'no row has both a pre-training cost and a transfer metric')
    for ax, m in zip(axes, metrics):
        for i, row in enumerate(rows):
            if 'cost' in row.values and m.name in row.values:
                x, y = row.values['cost'], row.values[m.name]
                xerr = None if row.cost_range is None else \
                    [[x - row.cost_range[0]], [row.cost_range[1] - x]]
                spread = row.intervals.get(m.name)
                yerr = None if spread is None else [[y - spread.low], [spread.high - y]]
                ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=MARKERS[kind(row)],
                            color=f'C{i % 10}', markersize=8, capsize=3,
                            label=f'{row.method} ({kind(row)})')
                ax.annotate(row.method, (x, y), textcoords='offset points', xytext=(5, 4),
                            fontsize=7)
        ax.margins(x=0.2, y=0.1)
        ax.set_xlabel('pre-training cost (x baseline)')
        ax.set_ylabel(m.header)
        ax.legend(fontsize=7)
    fig.suptitle('Transfer vs pre-training cost (markers: o published, s derived, ^ measured; '
                 'bars: interquartile range of the measured cost, confidence interval of '
                 'the measured value)', fontsize=10)
    save_figure(fig, path)
