"""What every per-image metric offers the bootstrap: its images and a metric on counts."""
import abc
import hashlib
from typing import Sequence

import numpy as np

REMEMBERED = 8   # score batches an ImageScorer keeps (each (B, K) floats)


class ImageScorer(abc.ABC):
    """A transfer metric recomputable on any resampled list of the evaluation images.

    Args:
        source: the per-sample manifest the results were read from (named in errors).
        image_ids: ``(n,)`` the evaluation images' ids, the resampling unit.
        keys: the metric keys as the run logged them (``accuracy/top1``, ``mIoU``,
            ``coco/bbox_mAP`` ...), the columns of :meth:`score`.
        truth: what makes two runs comparable beyond their ids (the ground truth's
            digest, the metric's settings); paired comparisons require it equal.
    """

    def __init__(self, source: str, image_ids: np.ndarray, keys: Sequence[str],
                 truth: str) -> None:
        self.source = source
        self.image_ids = np.asarray(image_ids)
        self.keys = tuple(keys)
        self.truth = truth
        self.remembered: dict[str, np.ndarray] = {}   # counts' digest -> scores

    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    def score(self, counts: np.ndarray) -> np.ndarray:
        """``(B, n)`` image counts (how often each image is in a resample) -> ``(B, K)``
        metric values, the metric recomputed on each resampled list.

        The last few results are remembered: a run's interval and its paired deltas
        draw the same resamples (one seed), so a baseline is scored once, not once per
        comparison (COCO's accumulation is the bootstrap's cost)."""
        key = digest(np.asarray(counts, dtype=np.int64))
        if key not in self.remembered:
            if len(self.remembered) >= REMEMBERED:
                self.remembered.pop(next(iter(self.remembered)))
            self.remembered[key] = self.compute(counts)
        return self.remembered[key]

    @abc.abstractmethod
    def compute(self, counts: np.ndarray) -> np.ndarray:
        """:meth:`score` without remembering."""

    def values(self) -> dict:
        """The metrics on the evaluation images themselves (each counted once)."""
        scores = self.score(np.ones((1, self.num_images), dtype=np.int64))[0]
        return dict(zip(self.keys, scores.tolist()))


def digest(*parts) -> str:
    """sha256 over arrays and strings (for :attr:`ImageScorer.truth`)."""
    sha = hashlib.sha256()
    for part in parts:
        sha.update(np.ascontiguousarray(part).tobytes() if isinstance(part, np.ndarray)
                   else repr(part).encode())
    return sha.hexdigest()
