"""A figure per method from its pre-training checkpoint and images of its own training
data: ``tools/visualize.py``'s mix / reconstruction / Top-K attention grid for a model
that mixes images, the MAE paper's masked-input / reconstruction grid for one that masks
them (the MAE baseline)."""
import os
from pathlib import Path
from typing import Optional

from mmengine.config import Config

from ..visualize import (load_pretraining_model, probe_group, probe_masking,
                         read_square_images, render_grid, render_masking_grid, write_png)

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


def method_figure(checkpoint: str, cfg: Config, out: Path, seed: int = 0,
                  images: int = 4) -> str:
    """Write the method's figure as a PNG; return its caption. A mixing model mixes its r
    images (query: the centre patch); a masking model masks ``images`` images.

    Raises:
        ValueError: the model neither mixes nor masks, or its checkpoint, config or images
            are unusable; the message says which.
    """
    model = load_pretraining_model(checkpoint, cfg)
    backbone, patch = model.backbone, model.head.patch_size
    grid = backbone.patch_resolution[0]
    if getattr(backbone, 'mix_ratio', None) is not None:
        query = (grid // 2) * grid + grid // 2
        paths = training_images(cfg, backbone.mix_ratio)
        probe = probe_group(model, read_square_images(paths, grid * patch), query, seed)
        write_png(render_grid(probe, query, patch), out)
        kind = 'Top-K attention' if probe.topk else 'plain attention (its top-K shown)'
        return (f'{Path(checkpoint).name}: r = {backbone.mix_ratio} training images '
                f'({", ".join(p.name for p in paths)}) mixed (seed {seed}); block '
                f'{probe.layer} {kind} of query patch {query}; reconstructions with own '
                'patches pasted back.')
    if not hasattr(backbone, 'random_masking'):
        raise ValueError(f'{checkpoint}: {type(backbone).__name__} neither mixes nor masks '
                         'images: no figure')
    paths = training_images(cfg, images)
    probe = probe_masking(model, read_square_images(paths, grid * patch), seed)
    write_png(render_masking_grid(probe), out)
    return (f'{Path(checkpoint).name}: {images} training images '
            f'({", ".join(p.name for p in paths)}), {probe.mask_ratio:.0%} of the patches '
            f'masked (seed {seed}); reconstructions with the visible patches pasted back.')


def try_method_figure(checkpoint: Optional[str], cfg: Config,
                      out: Path) -> tuple[bool, str]:
    """(True, caption) with the figure written, or (False, why there is none)."""
    if not checkpoint:
        return False, 'no pre-training checkpoint (the stage did not finish)'
    try:
        return True, method_figure(checkpoint, cfg, out)
    except (ValueError, OSError) as e:
        return False, str(e)
