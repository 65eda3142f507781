"""Read a run's per-sample files into the scorer of its kind."""
from typing import Optional

from .accuracy import load_accuracy
from .coco import load_coco
from .iou import load_iou
from .per_sample_files import read_manifest
from .scorer import ImageScorer


def load_scorer(manifest_path: str, ann_file: Optional[str] = None) -> ImageScorer:
    """The metric of the evaluation ``manifest_path`` describes (``per_sample/val.json``
    or ``test.json``), recomputable on resampled lists of its images. Detection matches
    its detections once (seconds to minutes); ``ann_file`` replaces the recorded
    annotation path (same content)."""
    manifest = read_manifest(manifest_path)
    if manifest['kind'] == 'classification':
        return load_accuracy(manifest_path, manifest)
    if manifest['kind'] == 'segmentation':
        return load_iou(manifest_path, manifest)
    return load_coco(manifest_path, manifest, ann_file)
