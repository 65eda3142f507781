"""Draw what a MixedAE (or naive-mixing) checkpoint does with one group of r images.

    python tools/visualize.py CHECKPOINT IMAGE [IMAGE ...] [--config CFG] [--out PNG]
        [--query-patch IDX] [--seed S]

Give exactly r = mix_ratio images. The PNG shows the mixed input, the source image of
every patch, the keys a query patch keeps in the last Top-K block (share of heads, as a
heat map over the mixed image), and for every image its original, its reconstruction with
its own patches pasted back (as in MAE's figures) and the raw prediction. The model is
built from the config stored in the checkpoint unless --config is given.
"""
import argparse
import sys

import mixedae.modules  # noqa: F401  (registers the modules)
from mixedae.engine import CorruptCheckpointError, UnsafeCheckpointError
from mixedae.visualize import (load_mixing_model, probe_group, read_square_images,
                               render_grid, write_png)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='pre-training checkpoint (mmengine)')
    parser.add_argument('images', nargs='+', help='r = mix_ratio image files')
    parser.add_argument('--config', help='pre-training config (default: the checkpoint\'s)')
    parser.add_argument('--out', default='mixedae_visualization.png', help='PNG to write')
    parser.add_argument('--query-patch', type=int,
                        help='patch index, row-major (default: the centre patch)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the mixing mask')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        model = load_mixing_model(args.checkpoint, args.config)
        backbone = model.backbone
        grid = backbone.patch_resolution[0]
        query = (grid // 2) * grid + grid // 2 if args.query_patch is None \
            else args.query_patch
        images = read_square_images(args.images, grid * model.head.patch_size)
        probe = probe_group(model, images, query, args.seed)
        write_png(render_grid(probe, query, model.head.patch_size), args.out)
    except (ValueError, OSError, CorruptCheckpointError, UnsafeCheckpointError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'wrote {args.out} (layer {probe.layer}, query patch {query}, '
          f'mix_ratio {backbone.mix_ratio})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
