"""What a study can tell, read off its intervals: which deltas against the baseline are
resolved (their paired interval excludes 0), whether the positive control (a randomly
initialised encoder) is told apart from the pre-trained baseline, and how small a
difference each task could resolve (the half-width of its delta intervals)."""
import statistics

from .rows import METRICS, Row


def is_scratch(row: Row) -> bool:
    return 'random init' in row.provenance


def verdict(row: Row, name: str) -> str:
    """'mixedae - mae on IN-1K lin top-1: -14.16 [-19.14, -9.38]: resolved, mae ahead'."""
    paired, base, header = row.paired[name], row.baseline.method, \
        next(m.header for m in METRICS if m.name == name)
    text = (f'{row.method} - {base} on {header}: {paired.value:+.2f} '
            f'[{paired.low:+.2f}, {paired.high:+.2f}]')
    if not paired.resolved:
        return f'{text}: not resolved (the interval holds 0)'
    ahead = row.method if paired.value > 0 else base
    p = (f'p = {paired.p_value:.2g}' if paired.p_value else
         f'p < {1 / paired.resamples:.2g}: no resample crossed 0')
    chance = ('' if paired.prob_improvement is None else
              f', P({row.method} > {base}) = {paired.prob_improvement:.2f} over seed pairs')
    return f'{text}: resolved, {ahead} ahead ({p}{chance})'


def study_findings(rows: list[Row]) -> list[str]:
    """Sentences on one study's measured rows (empty without paired intervals)."""
    measured = [r for r in rows if r.provenance.startswith('measured') and r.paired]
    if not measured:
        return []
    lines = []
    controls = [r for r in measured if is_scratch(r)]
    for row in controls:
        told = [n for n, p in row.paired.items() if p.resolved]
        lines.append(f'Positive control ({row.method}, random initialisation): pre-training '
                     f'({row.baseline.method}) is told apart from it on '
                     f'{len(told)} of {len(row.paired)} metrics'
                     + (f' ({", ".join(told)})' if told else
                        ': at this scale the study cannot tell pre-training from none, so it '
                        'cannot tell methods apart either') + '.')
        lines += [f'  {verdict(row, n)}' for n in row.paired]
    for row in (r for r in measured if not is_scratch(r)):
        lines += [verdict(row, n) for n in row.paired]
    widths = {}
    for row in measured:
        for name, p in row.paired.items():
            widths.setdefault(name, []).append((p.high - p.low) / 2)
    headers = {m.name: m.header for m in METRICS}
    lines.append('Resolution: a delta smaller than about '
                 + ', '.join(f'{statistics.median(w):.1f} points on {headers[n]}'
                             for n, w in widths.items())
                 + ' (the median half-width of the paired intervals) cannot be told from '
                 'noise here.')
    return lines
