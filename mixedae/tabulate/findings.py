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


def control_outcome(row: Row) -> dict[str, list[str]]:
    """The positive control's metrics by outcome: pre-training ahead ('passed'), not told
    apart ('unresolved'), random initialisation ahead ('failed')."""
    outcome = {'passed': [], 'unresolved': [], 'failed': []}
    for name, p in row.paired.items():
        outcome['unresolved' if not p.resolved else
                'passed' if p.value < 0 else 'failed'].append(name)
    return outcome


def study_findings(rows: list[Row]) -> list[str]:
    """Sentences on one study's measured rows (empty without paired intervals)."""
    measured = [r for r in rows if r.provenance.startswith('measured') and r.paired]
    if not measured:
        return []
    lines, unfit = [], set()
    for row in (r for r in measured if is_scratch(r)):
        outcome = control_outcome(row)
        base = row.baseline.method
        lines.append(f'Positive control ({row.method}, random initialisation): pre-training '
                     f'({base}) is ahead of it on {len(outcome["passed"])} of '
                     f'{len(row.paired)} metrics'
                     + (f' ({", ".join(outcome["passed"])})' if outcome['passed'] else
                        ': at this scale the study cannot tell pre-training from none, so it '
                        'cannot tell methods apart either') + '.')
        unfit.update(outcome['unresolved'] + outcome['failed'])
        if outcome['failed']:
            lines.append(f'  The control fails on {", ".join(outcome["failed"])}: random '
                         f'initialisation is ahead of {base}, so there this study does not '
                         'measure what pre-training gives.')
        lines += [f'  {verdict(row, n)}' for n in row.paired]
    for row in (r for r in measured if not is_scratch(r)):
        lines += [verdict(row, n) + (' (a metric the positive control did not pass)'
                                     if n in unfit else '') for n in row.paired]
    single = sorted({n for row in measured for n, iv in row.intervals.items()
                     if iv.seeds == 1 and n in row.paired})
    if single:
        lines.append(f'One run per method on {", ".join(single)}: those intervals cover the '
                     'choice of evaluation images, not the run-to-run variation of training '
                     '(another seed, or the float rounding of another machine); a `seeds` '
                     'list covers it.')
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
