"""Images/s per data-loading worker of the ImageNet pre-training pipeline on this CPU.

Writes realistic JPEGs (default 500x375, quality 90, about ImageNet's typical size and
file size) to a temporary folder, then runs the pre-training config's training pipeline
(checked load + JPEG decode, RandomResizedCrop 224 bicubic with pillow, flip, PackInputs) in this
one process, single-threaded as in a DataLoader worker, and prints images/s per worker
(wall clock, and per CPU-second, the figure for an idle core) and how many workers a GPU
consuming ``--img-per-s`` images per second needs.

``--jpeg-check-cost`` also times the pipeline with the loader's truncated-JPEG check off
(``check_jpeg_data=False``), the two interleaved pass by pass, and prints the ratio.

    python benchmarks/data_pipeline.py [--img-per-s 3482] [--num-images 64]
        [--passes 3] [--width 500 --height 375 --quality 90] [--jpeg-check-cost]
"""
import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'configs/mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'


def natural_image(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth colour regions, textures at two scales and sensor-like noise (BGR uint8):
    at 500x375, quality 90 the JPEG is about 110 KiB, ImageNet's mean file size."""
    def field(scale: int, channels: int) -> np.ndarray:
        small = rng.normal(size=(max(height // scale, 2), max(width // scale, 2), channels))
        return cv2.resize(small.astype(np.float32), (width, height),
                          interpolation=cv2.INTER_CUBIC).reshape(height, width, channels)
    img = 128 + 60 * field(64, 3) + 30 * field(8, 1) + 30 * field(2, 3) \
        + 10 * rng.normal(size=(height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_jpegs(folder: Path, num: int, width: int, height: int, quality: int) -> List[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(num):
        path = folder / f'img_{i:04d}.JPEG'
        cv2.imwrite(str(path), natural_image(rng, width, height),
                    [cv2.IMWRITE_JPEG_QUALITY, quality])
        paths.append(str(path))
    return paths


def build_pipeline(config: Path, **loader_args):
    """The pipeline of the config's training dataset (the checked loader, not the
    inherited top-level ``train_pipeline``) as an mmengine ``Compose`` (mmpretrain scope),
    ``loader_args`` added to its first step (the image loader)."""
    import mixedae.modules  # noqa: F401  (registers the modules)
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(str(config))
    steps = cfg.train_dataloader.dataset.pipeline
    pipeline = [dict(steps[0], **loader_args), *steps[1:]]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return Compose(pipeline)


def measure(pipelines: Dict[str, object], paths: List[str],
            passes: int) -> Dict[str, Dict[str, float]]:
    """Per pipeline, the median over passes of images/s, by wall clock and by CPU time;
    the pipelines take turns pass by pass."""
    wall: Dict[str, list] = {name: [] for name in pipelines}
    cpu: Dict[str, list] = {name: [] for name in pipelines}
    for pipeline in pipelines.values():
        pipeline(dict(img_path=paths[0]))                      # warm-up (imports, caches)
    for _ in range(passes):
        for name, pipeline in pipelines.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            for path in paths:
                out = pipeline(dict(img_path=path))
            wall[name].append(len(paths) / (time.perf_counter() - start_wall))
            cpu[name].append(len(paths) / (time.process_time() - start_cpu))
            assert out['inputs'].shape[-2:] == (224, 224), out['inputs'].shape
    return {name: dict(wall=statistics.median(wall[name]), cpu=statistics.median(cpu[name]))
            for name in pipelines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--img-per-s', type=float, default=3482.,
                        help='images/s the GPU consumes (default: MixedAE ViT-B/16 on '
                        'one H100, bf16, from issue 6)')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--passes', type=int, default=3)
    parser.add_argument('--width', type=int, default=500)
    parser.add_argument('--height', type=int, default=375)
    parser.add_argument('--quality', type=int, default=90)
    parser.add_argument('--config', type=Path, default=CONFIG)
    parser.add_argument('--jpeg-check-cost', action='store_true',
                        help='also time the loader with check_jpeg_data=False')
    args = parser.parse_args()
    cv2.setNumThreads(0)                         # as mmengine's workers (opencv_num_threads=0)
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as folder:
        paths = write_jpegs(Path(folder), args.num_images, args.width, args.height,
                            args.quality)
        kib = statistics.mean(Path(p).stat().st_size for p in paths) / 1024
        pipelines = {'checked': build_pipeline(args.config)}
        if args.jpeg_check_cost:
            pipelines['no JPEG check'] = build_pipeline(args.config, check_jpeg_data=False)
        rates = measure(pipelines, paths, args.passes)
        rate = rates['checked']
    print(f'{args.num_images} JPEGs {args.width}x{args.height} q{args.quality} '
          f'(mean {kib:.0f} KiB), pipeline of {args.config.name}, one worker process')
    print(f"images/s per worker: {rate['wall']:.0f} (wall clock), "
          f"{rate['cpu']:.0f} (per CPU-second)")
    print(f'workers needed for {args.img_per_s:g} img/s: '
          f"{math.ceil(args.img_per_s / rate['wall'])} (wall clock), "
          f"{math.ceil(args.img_per_s / rate['cpu'])} (idle cores)")
    if args.jpeg_check_cost:
        unchecked = rates['no JPEG check']
        print(f"without the truncated-JPEG check: {unchecked['wall']:.0f} images/s (wall), "
              f"{unchecked['cpu']:.0f} (per CPU-second); checked / unchecked: "
              f"{rate['wall'] / unchecked['wall']:.2f} (wall), "
              f"{rate['cpu'] / unchecked['cpu']:.2f} (CPU)")


if __name__ == '__main__':
    main()
