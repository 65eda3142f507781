"""Write tiny ImageNet / COCO / ADE20K-layout datasets, deterministically from a seed.

    python tools/make_tiny_datasets.py --out data/tiny --seed 0 [--which imagenet coco ade20k]

Each dataset goes to its own folder under ``--out`` (``imagenet/``, ``coco/``, ``ade/``). A
non-empty folder is left alone unless ``--force``; each folder is generated next to its
target under a temporary name and renamed into place, so an interrupted run leaves no
half-written dataset (a killed run may leave a hidden ``.<name>.tmp-*`` folder behind).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from mixedae.data import SHAPES, make_tiny_ade20k, make_tiny_coco, make_tiny_imagenet
from mixedae.data.scenes import HUE_JITTER
from mixedae.study.layout import TINY_DATASET_RECORD as RECORD
from mixedae.study.layout import TINY_DATASETS as FOLDERS


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if int(text) < minimum:
            raise argparse.ArgumentTypeError(f'expected an integer >= {minimum}, got {text}')
        return int(text)
    return parse


positive_int, image_side = int_at_least(1), int_at_least(16)


def int_or_none(minimum: int) -> Callable[[str], Optional[int]]:
    parse_int = int_at_least(minimum)
    return lambda text: None if text.lower() == 'none' else parse_int(text)


def float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f'expected a number in [{low}, {high}], got {text}')
        return value
    return parse


non_negative, fraction = float_in(0., float('inf')), float_in(0., 0.5)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, default=Path('data/tiny'), help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--which', nargs='+', choices=list(FOLDERS), default=list(FOLDERS))
    parser.add_argument('--force', action='store_true', help='replace non-empty dataset folders')
    parser.add_argument('--stamp', default='',
                        help=f'recorded with the seed in each folder\'s {RECORD} (the pipeline '
                        'writes the digest of the generator there, to remake stale data)')
    # The defaults are the demo's datasets (configs/pipelines/demo.py makes them with
    # --out and --seed only): configs/demo/* are set up for these sizes and classes.
    size = parser.add_argument_group('sizes (defaults: the demo\'s)')
    size.add_argument('--imagenet-classes', type=positive_int, default=16)
    size.add_argument('--imagenet-train', type=positive_int, default=64, help='per class')
    size.add_argument('--imagenet-val', type=positive_int, default=32, help='per class')
    size.add_argument('--imagenet-size', type=image_side, default=32, help='image side (px)')
    size.add_argument('--coco-train', type=positive_int, default=128)
    size.add_argument('--coco-val', type=positive_int, default=256)
    size.add_argument('--coco-size', type=image_side, default=64)
    size.add_argument('--ade-train', type=positive_int, default=128)
    size.add_argument('--ade-val', type=positive_int, default=256)
    size.add_argument('--ade-size', type=image_side, default=64)
    look = parser.add_argument_group('difficulty (defaults: the demo\'s)')
    look.add_argument('--imagenet-hue-jitter', type=non_negative, default=HUE_JITTER,
                      help='+- hue around a class\'s hue (OpenCV units, 180 per turn)')
    look.add_argument('--max-objects', type=positive_int, default=3, help='per COCO/ADE scene')
    look.add_argument('--scene-radius', type=fraction, nargs=2, default=(0.15, 0.3),
                      metavar=('MIN', 'MAX'), help='COCO/ADE object radius / image side')
    look.add_argument('--scene-hue-classes', type=int_or_none(len(SHAPES)), default=len(SHAPES),
                      help='COCO/ADE objects take the hues of a tiny-ImageNet class set of '
                      'this many classes (3: one hue band per shape); "none": random hues, '
                      'only the outline tells the class')
    look.add_argument('--scene-hue-jitter', type=non_negative, default=40.0,
                      help='+- hue around a scene object\'s class hue (40 with 3 classes: '
                      'neighbouring bands overlap by 20)')
    look.add_argument('--ade-background', choices=('label', 'ignore'), default='label',
                      help='the ADE background: a class (label 1) or "other" (0, ignored)')
    return parser.parse_args(argv)


def dataset_writers(args: argparse.Namespace) -> dict[str, Callable[[Path], dict]]:
    """Name -> function writing that dataset into a given folder."""
    lo, hi = args.scene_radius
    if lo > hi:
        raise SystemExit(f'error: --scene-radius MIN {lo} > MAX {hi}')
    scene = dict(radius_range=(lo, hi), object_classes=args.scene_hue_classes,
                 hue_jitter=args.scene_hue_jitter)
    return {
        'imagenet': lambda root: make_tiny_imagenet(
            root, args.seed, args.imagenet_classes, args.imagenet_train, args.imagenet_val,
            args.imagenet_size, args.imagenet_hue_jitter),
        'coco': lambda root: make_tiny_coco(
            root, args.seed, args.coco_train, args.coco_val, args.coco_size, args.max_objects,
            **scene),
        'ade20k': lambda root: make_tiny_ade20k(
            root, args.seed, args.ade_train, args.ade_val, args.ade_size, args.max_objects,
            label_background=args.ade_background == 'label', **scene),
    }


def recorded(write: Callable[[Path], dict], args: argparse.Namespace
             ) -> Callable[[Path], dict]:
    """``write``, then the folder's ``tiny_dataset.json``: the seed and stamp it was made
    with."""
    def write_and_record(root: Path) -> dict:
        summary = write(root)
        (root / RECORD).write_text(json.dumps({'seed': args.seed, 'stamp': args.stamp}))
        return summary
    return write_and_record


def is_non_empty(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def write_folder_atomically(target: Path, write: Callable[[Path], dict]) -> dict:
    """Run ``write`` on a temporary sibling of ``target``, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{target.name}.tmp-', dir=target.parent))
    try:
        summary = write(tmp)
        if target.exists():  # empty, or replaced under --force
            old = Path(tempfile.mkdtemp(prefix=f'.{target.name}.old-', dir=target.parent))
            target.rename(old / target.name)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def folder_stats(path: Path) -> str:
    files = [p for p in path.rglob('*') if p.is_file()]
    return f'{len(files)} files, {sum(p.stat().st_size for p in files) / 1024:.1f} KiB'


def flatten(summary: dict, prefix: str = '') -> list[str]:
    """{'train2017': {'images': 16}} -> ['train2017.images=16']."""
    items = []
    for key, value in summary.items():
        if isinstance(value, dict):
            items += flatten(value, f'{prefix}{key}.')
        else:
            items.append(f'{prefix}{key}={value}')
    return items


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = {name: args.out / FOLDERS[name] for name in dict.fromkeys(args.which)}
    blocked = [str(t) for t in targets.values() if is_non_empty(t)]
    if blocked and not args.force:
        print(f'error: not empty: {", ".join(blocked)} (pass --force to replace)',
              file=sys.stderr)
        return 1
    writers = dataset_writers(args)
    for name, target in targets.items():
        start = time.perf_counter()
        summary = write_folder_atomically(target, recorded(writers[name], args))
        print(f'{name:8s} -> {target}: {" ".join(flatten(summary))} '
              f'({folder_stats(target)}, {time.perf_counter() - start:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
