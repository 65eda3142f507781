"""Top-k accuracy (mmpretrain ``Accuracy``) from per-image 0/1 correctness."""
import numpy as np

from .per_sample_files import data_file, load_arrays
from .scorer import ImageScorer, digest


class AccuracyScorer(ImageScorer):
    """Each key's accuracy in % = 100 x the mean of its per-image 0/1 over the list.

    Args:
        correct: ``(n, K)`` 1 where the image counts as correct for key k.
        gt_label: ``(n,)`` true classes (the ground truth two runs must share).
    """

    def __init__(self, source: str, image_ids: np.ndarray, keys, correct: np.ndarray,
                 gt_label: np.ndarray) -> None:
        order = np.argsort(image_ids, kind='stable')
        super().__init__(source, image_ids, keys, digest(image_ids[order], gt_label[order]))
        self.correct = correct.astype(np.float64)

    def compute(self, counts: np.ndarray) -> np.ndarray:
        return 100.0 * (counts @ self.correct) / counts.sum(axis=1, keepdims=True)


def load_accuracy(manifest_path: str, manifest: dict) -> AccuracyScorer:
    n, k = manifest['num_images'], len(manifest['metric_keys'])
    arrays = load_arrays(data_file(manifest_path, manifest, 'arrays'), {
        'image_ids': (n, ), 'gt_label': (n, ), 'pred_label': (n, ), 'correct': (n, k)})
    return AccuracyScorer(manifest_path, arrays['image_ids'], manifest['metric_keys'],
                          arrays['correct'], arrays['gt_label'])
