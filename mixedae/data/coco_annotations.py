"""Faults in a COCO annotation file that mmdet skips silently or reports without a name.

mmdet's ``CocoDataset`` drops, without a word, annotations whose box has no area, whose
category is not one of the file's categories and (through pycocotools) whose image id is
not one of its images; an annotation without ``segmentation`` in a set loaded with masks
fails later with a bare ``KeyError: 'mask'``. :func:`coco_annotation_faults` lists them by
annotation and image id; ``DatasetCheckHook`` raises them (or, with ``skip_bad=True``,
warns with their counts) before the first iteration.
"""
from typing import Dict, List

# what each fault means, in the order they are reported
FAULTS = {
    'box': 'box of non-positive width or height (mmdet drops it)',
    'image': 'image id not among the file\'s images (ignored)',
    'category': 'category id not among the file\'s categories (ignored)',
    'segmentation': 'no segmentation, but the pipeline loads masks (with_mask=True)',
}


def coco_annotation_faults(coco: dict, with_mask: bool) -> Dict[str, List[str]]:
    """``{fault: ['annotation <id> (image <id>)', ...]}`` of a parsed COCO json, for the
    faults of :data:`FAULTS` that occur (``segmentation`` only if ``with_mask``)."""
    images = {image['id'] for image in coco.get('images', [])}
    categories = {category['id'] for category in coco.get('categories', [])}
    faults: Dict[str, List[str]] = {kind: [] for kind in FAULTS}
    for ann in coco.get('annotations', []):
        where = f'annotation {ann.get("id")} (image {ann.get("image_id")})'
        box = ann.get('bbox')
        if not (isinstance(box, (list, tuple)) and len(box) == 4 and box[2] > 0
                and box[3] > 0):
            faults['box'].append(where)
        if ann.get('image_id') not in images:
            faults['image'].append(where)
        if ann.get('category_id') not in categories:
            faults['category'].append(where)
        if with_mask and not ann.get('segmentation'):
            faults['segmentation'].append(where)
    return {kind: found for kind, found in faults.items() if found}


def describe_faults(faults: Dict[str, List[str]], shown: int = 5) -> str:
    """One line per fault: count, meaning and the first ``shown`` annotations."""
    lines = []
    for kind, found in faults.items():
        listed = ', '.join(found[:shown]) + (', ...' if len(found) > shown else '')
        lines.append(f'{len(found)} with {FAULTS[kind]}: {listed}')
    return '; '.join(lines)
