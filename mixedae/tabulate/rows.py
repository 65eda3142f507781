"""The table's vocabulary: its columns (:data:`METRICS`), its rows and its error."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


class TabulateError(ValueError):
    """A work dir or data file that cannot be tabulated; the message names the path."""


@dataclass(frozen=True)
class Metric:
    """One table column: the scalar `key` logged for `task`, times `scale` gives percent."""
    name: str
    task: str
    key: str
    scale: float
    header: str


METRICS = (
    Metric('ft_top1', 'cls_finetune', 'accuracy/top1', 1.0, 'IN-1K ft top-1'),
    Metric('lin_top1', 'cls_linear', 'accuracy/top1', 1.0, 'IN-1K lin top-1'),
    Metric('ade_miou', 'seg_ade20k', 'mIoU', 1.0, 'ADE20K mIoU'),
    Metric('coco_box', 'det_coco', 'coco/bbox_mAP', 100.0, 'COCO AP box'),
    Metric('coco_mask', 'det_coco', 'coco/segm_mAP', 100.0, 'COCO AP mask'),
)


@dataclass(frozen=True)
class Spread:
    """The confidence interval of a measured value (table units): a bootstrap over
    ``images`` evaluation images and, with ``seeds`` > 1, over the runs first."""
    low: float
    high: float
    seeds: int
    images: int
    confidence: float
    resamples: int


@dataclass(frozen=True)
class PairedDelta:
    """A row's value minus its baseline's, resampled on the same images (and seeds): the
    delta, its interval, the two-sided bootstrap p-value and, with several seeds per
    method, the probability that the row beats the baseline (rliable's)."""
    value: float
    low: float
    high: float
    p_value: float
    resamples: int
    prob_improvement: Optional[float] = None

    @property
    def resolved(self) -> bool:
        """The interval excludes 0: the only deltas the table marks."""
        return self.low > 0 or self.high < 0


@dataclass
class Row:
    """One table row; `values` maps metric names (and 'cost', × baseline) to numbers."""
    method: str
    provenance: str  # 'published', 'derived' or 'measured (<schedules>)'
    values: dict[str, float] = field(default_factory=dict)
    baseline: Optional['Row'] = None
    step_time: Optional[float] = None  # measured pre-training seconds/iter
    no_delta: tuple[str, ...] = ()  # metrics whose protocol differs from the baseline's
    note: str = ''
    source: str = ''
    study: str = ''
    digits: int = 2
    cost_range: Optional[tuple[float, float]] = None  # interquartile range of 'cost'
    cost_device: str = ''  # where the cost was measured (the study's cost stage)
    protocols: dict[str, str] = field(default_factory=dict)  # task -> protocol id
    arch: Optional[str] = None  # pre-trained backbone, e.g. 'vit-base-p16'
    pretrain_epochs: Optional[int] = None  # length of the finished pre-training
    seeds: dict[str, int] = field(default_factory=dict)  # task -> runs averaged
    evidence: dict[str, list] = field(default_factory=dict)  # metric -> runs.Found per seed
    intervals: dict[str, Spread] = field(default_factory=dict)
    paired: dict[str, PairedDelta] = field(default_factory=dict)  # vs the baseline
    no_interval: dict[str, str] = field(default_factory=dict)  # metric -> why none

    def delta(self, name: str) -> Optional[float]:
        """This row's value minus the baseline's, or None where either is missing."""
        base = self.baseline
        if base is None or base is self or name in self.no_delta:
            return None
        if name not in self.values or name not in base.values:
            return None
        return self.values[name] - base.values[name]


# short task names in provenance labels and notes
SHORT = {'pretrain': 'pt', 'cls_finetune': 'ft', 'cls_linear': 'lin', 'det_coco': 'det',
         'seg_ade20k': 'seg'}
