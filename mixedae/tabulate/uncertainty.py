"""Confidence intervals of the table's measured values and of their deltas against the
baseline, from the per-sample results every evaluation keeps (:mod:`mixedae.stats`).

A value's interval is a bootstrap over the evaluation images of the evaluation it came
from (``<run>/per_sample/test.json`` or ``val.json``); with seeds, over the runs, then the
images (hierarchical). A delta is resampled on the same images for both methods (paired by
image id; seeds drawn per method). A value with an interval is the one recomputed from the
per-sample results, which the interval surrounds (a logged metric may be rounded: COCO's
AP to 0.1 points). A value without per-sample results (a run made before they were kept,
or by another tool) keeps its number and gets no interval; the row says why.
"""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..stats import (ImageSetError, PerSampleFileError, bootstrap_intervals, load_scorer,
                     paired_deltas, seed_intervals, seed_paired_deltas)
from ..stats.per_sample_files import read_manifest
from .rows import METRICS, PairedDelta, Row, Spread
from .runs import Found

PER_SAMPLE = 'per_sample'   # mixedae.evaluation.PerSampleHook's folder in a run
# the coarsest rounding of a logged metric, in the table's points (mmdet's CocoMetric logs
# a 0-1 AP to 3 decimals: 0.05 points)
LOGGED_ROUNDING = 0.05


@dataclass(frozen=True)
class Bootstrap:
    """How the intervals are drawn (the study's ``tabulate`` settings)."""
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0


class NoPerSample(Exception):
    """A value whose evaluation left no usable per-sample results (the message says why)."""


def manifest_of(found: Found, key: str) -> Path:
    """The per-sample manifest of the evaluation ``found`` came from.

    Raises:
        NoPerSample: none was kept, or the one kept is of another evaluation.
    """
    path = found.run / PER_SAMPLE / f'{found.mode}.json'
    if not path.is_file():
        raise NoPerSample(f'no per-sample results in {found.run} (an evaluation made '
                          'before they were kept, or by another tool)')
    logged = read_manifest(str(path))['metrics'].get(key)
    if logged is None or not math.isclose(float(logged), found.value, rel_tol=1e-6,
                                          abs_tol=1e-9):
        raise NoPerSample(f'{path} holds another evaluation than the {key} = {found.value} '
                          'tabulated')
    return path


class Estimator:
    """Intervals and paired deltas of the rows of one table; each per-sample file is read
    (and COCO's detections matched) once, each bootstrap drawn once for all the keys of
    its runs."""

    def __init__(self, settings: Bootstrap) -> None:
        self.settings = settings
        self.scorers: dict[Path, object] = {}
        self.cache: dict[tuple, dict] = {}

    def runs(self, row: Row, name: str, key: str) -> list:
        """The scorers of the runs (seeds) behind ``row``'s value ``name``."""
        paths = [manifest_of(found, key) for found in row.evidence[name]]
        for path in paths:
            if path not in self.scorers:
                self.scorers[path] = load_scorer(str(path))
            if self.scorers[path].num_images < 2:
                raise NoPerSample(f'{path}: {self.scorers[path].num_images} evaluation '
                                  'image (a bootstrap needs at least 2)')
        return [self.scorers[p] for p in paths]

    def interval(self, runs: Sequence) -> dict:
        ident = ('interval', *(r.source for r in runs))
        if ident not in self.cache:
            options = dict(confidence=self.settings.confidence,
                           n_resamples=self.settings.resamples, seed=self.settings.seed)
            self.cache[ident] = (bootstrap_intervals(runs[0], **options) if len(runs) == 1
                                 else seed_intervals(runs, **options))
        return self.cache[ident]

    def delta(self, runs: Sequence, base: Sequence) -> dict:
        ident = ('delta', tuple(r.source for r in runs), tuple(r.source for r in base))
        if ident not in self.cache:
            options = dict(confidence=self.settings.confidence,
                           n_resamples=self.settings.resamples, seed=self.settings.seed)
            self.cache[ident] = (paired_deltas(runs[0], base[0], **options)
                                 if len(runs) == len(base) == 1
                                 else seed_paired_deltas(runs, base, **options))
        return self.cache[ident]

    def estimate(self, row: Row) -> None:
        """Fill ``row.intervals`` and, against its baseline, ``row.paired``; a value that
        cannot have one gets the reason in ``row.no_interval``."""
        base = row.baseline if row.baseline is not row else None
        for m in METRICS:
            if m.name not in row.evidence:
                continue
            try:
                runs = self.runs(row, m.name, m.key)
                iv = self.interval(runs)[m.key]
            except (NoPerSample, PerSampleFileError) as e:
                row.no_interval[m.name] = str(e)
                continue
            exact = iv.value * m.scale
            if abs(exact - row.values[m.name]) > LOGGED_ROUNDING + 1e-9:
                row.no_interval[m.name] = (f'{m.name}: recomputed from the per-sample results '
                                           f'{exact:.4g}, logged {row.values[m.name]:.4g}')
                continue
            # the value the interval is drawn around (the logged one may be rounded)
            row.values[m.name] = exact
            row.intervals[m.name] = Spread(iv.low * m.scale, iv.high * m.scale,
                                           iv.num_seeds, iv.num_images, iv.confidence,
                                           iv.n_resamples)
            if base is None or m.name not in base.evidence or m.name in row.no_delta:
                continue
            try:
                d = self.delta(runs, self.runs(base, m.name, m.key))[m.key]
            except (NoPerSample, PerSampleFileError, ImageSetError) as e:
                row.no_interval[f'{m.name} delta'] = str(e)
                continue
            row.paired[m.name] = PairedDelta(d.delta * m.scale, d.low * m.scale,
                                             d.high * m.scale, d.p_value, d.n_resamples,
                                             d.prob_improvement)


def add_intervals(rows: Sequence[Row], settings: Optional[Bootstrap] = None) -> None:
    """Intervals for every measured row (the baseline's first, as the others pair with
    it)."""
    estimator = Estimator(settings or Bootstrap())
    for row in rows:
        if row.provenance.startswith('measured'):
            estimator.estimate(row)
