"""A reconstruction / Top-K attention grid per method (``tools/visualize.py``'s figure),
from the method's pre-training checkpoint and r images of its own training data."""
import os
from pathlib import Path
from typing import Optional

from mmengine.config import Config

from ..visualize import (load_mixing_model, probe_group, read_square_images, render_grid,
                         write_png)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def training_images(cfg: Config, count: int) -> list[Path]:
    """``count`` images of the config's training set: the first image of each of the first
    class folders (images of different classes mix more visibly), else the first files.

    Raises:
        ValueError: the folder does not exist or holds fewer images; names the folder.
    """
    dataset = cfg.train_dataloader.dataset
    prefix = dataset.get('data_prefix', '')
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', prefix.get('img', ''))
    folder = Path(dataset.get('data_root', '')) / prefix
    if not folder.is_dir():
        raise ValueError(f'training images: {folder} is not a folder')

    def images_in(path: Path) -> list[Path]:
        return sorted(path / e.name for e in os.scandir(path)
                      if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))

    classes = sorted(path for path in folder.iterdir() if path.is_dir())
    picked = [images[0] for path in classes[:count] if (images := images_in(path))]
    if len(picked) < count:
        picked = images_in(folder)[:count]
    if len(picked) < count:
        raise ValueError(f'training images: fewer than {count} images in {folder}')
    return picked


def mix_grid(checkpoint: str, cfg: Config, out: Path, seed: int = 0) -> str:
    """Write the grid of one mix of the centre patch as a PNG; return a caption.

    Raises:
        ValueError: the model does not mix images (MAE), or its checkpoint, config or
            images are unusable; the message says which.
    """
    model = load_mixing_model(checkpoint, cfg)
    backbone = model.backbone
    grid = backbone.patch_resolution[0]
    query = (grid // 2) * grid + grid // 2
    paths = training_images(cfg, backbone.mix_ratio)
    images = read_square_images(paths, grid * model.head.patch_size)
    probe = probe_group(model, images, query, seed)
    write_png(render_grid(probe, query, model.head.patch_size), out)
    kind = 'Top-K attention' if probe.topk else 'plain attention (its top-K shown)'
    return (f'{Path(checkpoint).name}: r = {backbone.mix_ratio} training images '
            f'({", ".join(p.name for p in paths)}) mixed (seed {seed}); block {probe.layer} '
            f'{kind} of query patch {query}; reconstructions with own patches pasted back.')


def try_mix_grid(checkpoint: Optional[str], cfg: Config, out: Path) -> tuple[bool, str]:
    """(True, caption) with the grid written, or (False, why there is none)."""
    if not checkpoint:
        return False, 'no pre-training checkpoint (the stage did not finish)'
    try:
        return True, mix_grid(checkpoint, cfg, out)
    except (ValueError, OSError) as e:
        return False, str(e)
