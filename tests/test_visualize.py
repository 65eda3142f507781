"""tools/visualize.py: a PNG grid from a tiny MixedAE checkpoint saved by a real Runner."""
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from conftest import CONFIGS, ROOT, tiny_pretrain_config
from mixedae.visualize import (grid_size, load_mixing_model, probe_group,
                               read_square_images, render_grid)
from mixedae.visualize.grid import cell_scale


@pytest.fixture(scope='module')
def checkpoint(pretrain_data_root, tmp_path_factory) -> Path:
    """One training iteration of the tiny MixedAE config, saved by mmengine."""
    work_dir = tmp_path_factory.mktemp('vis_pretrain')
    cfg = tiny_pretrain_config('mixedae_vit-tiny-p8_1xb32-300i_tiny.py', pretrain_data_root,
                               work_dir, **{'train_cfg.max_iters': 1,
                                            'train_dataloader.batch_size': 8})
    Runner.from_cfg(cfg).train()
    return work_dir / 'iter_1.pth'


@pytest.fixture(scope='module')
def images(pretrain_data_root) -> list[Path]:
    return sorted((pretrain_data_root / 'train').iterdir())[:4]


def test_cli_writes_grid_of_expected_size(checkpoint, images, tmp_path):
    out = tmp_path / 'grid.png'
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'visualize.py'), str(checkpoint),
         *map(str, images), '--out', str(out), '--query-patch', '5'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'wrote {out}' in result.stdout
    png = cv2.imread(str(out))
    r, img_size = 4, 32                       # the tiny config: mix_ratio 4, 32-px images
    cell = img_size * cell_scale(img_size)
    assert png.shape == (*grid_size(1 + r, cell), 3)
    assert png.std() > 10                     # cells were drawn, not a blank canvas


def test_probe_shows_real_mixing(checkpoint, images):
    model = load_mixing_model(str(checkpoint))
    probe = probe_group(model, read_square_images(images, 32), query=5, seed=1)
    patch, r = 8, 4
    grid = 32 // patch

    def patch_of(image, p):
        y, x = divmod(p, grid)
        return image[y * patch:(y + 1) * patch, x * patch:(x + 1) * patch]

    assert torch.bincount(probe.src, minlength=r).tolist() == [4] * r  # balanced mixing
    for p, s in enumerate(probe.src.tolist()):
        torch.testing.assert_close(patch_of(probe.mixed, p), patch_of(probe.originals[s], p))
        # the image's own patches are pasted back; the others come from the decoder
        torch.testing.assert_close(patch_of(probe.pasted[s], p), patch_of(probe.originals[s], p))
        other = (s + 1) % r
        torch.testing.assert_close(patch_of(probe.pasted[other], p),
                                   patch_of(probe.predicted[other], p))
    assert probe.topk and probe.layer == 3    # last block of 4, all blocks use Top-K
    assert probe.kept.shape == (16,) and 0 <= probe.kept.min() and probe.kept.max() <= 1
    # every head keeps at least K - 1 patch keys (K counts the [CLS] key)
    assert probe.kept.sum() >= model.backbone.topk - 1 - 1e-6
    canvas = render_grid(probe, 5, patch)
    assert canvas.shape == (*grid_size(1 + r, 32 * cell_scale(32)), 3)


def test_wrong_inputs_are_named(checkpoint, images, tmp_path):
    model = load_mixing_model(str(checkpoint))
    with pytest.raises(ValueError, match='mix_ratio=4 images, got 3'):
        probe_group(model, read_square_images(images[:3], 32), query=0)
    with pytest.raises(ValueError, match=r'query patch 16 outside \[0, N=16\)'):
        probe_group(model, read_square_images(images, 32), query=16)
    not_an_image = tmp_path / 'notes.txt'
    not_an_image.write_text('hello')
    with pytest.raises(ValueError, match='notes.txt: not a readable image'):
        read_square_images([not_an_image], 32)


def test_mae_checkpoint_is_refused(tmp_path):
    cfg = Config.fromfile(str(CONFIGS / 'demo' / 'mae_vit-tiny-p8_1xb32-300i_tiny.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    path = tmp_path / 'mae.pth'
    torch.save({'meta': {'cfg': cfg.pretty_text}, 'state_dict': model.state_dict()}, path)
    with pytest.raises(ValueError, match='MAE with MAEViT does not mix images'):
        load_mixing_model(str(path))


def test_masking_figure_of_mae(tmp_path, images):
    """The report's figure for MAE (which does not mix): the visible patches are the
    image's, black where masked; the reconstruction pastes them back over the prediction."""
    from conftest import TINY_MAE, save_pretraining_checkpoint
    from mixedae.visualize import load_pretraining_model, probe_masking, render_masking_grid
    save_pretraining_checkpoint(tmp_path / 'mae.pth', config=TINY_MAE)
    model = load_pretraining_model(str(tmp_path / 'mae.pth'), str(TINY_MAE))
    probe = probe_masking(model, read_square_images(images, 32), seed=1)
    assert probe.mask_ratio == 0.75 and probe.originals.shape == (4, 32, 32, 3)
    patch, shown = 8, 0
    for j in range(4):
        for y in range(0, 32, patch):
            for x in range(0, 32, patch):
                cut = (j, slice(y, y + patch), slice(x, x + patch))
                if probe.visible[cut].abs().sum() == 0:          # a masked patch
                    torch.testing.assert_close(probe.pasted[cut], probe.predicted[cut])
                else:
                    shown += 1
                    torch.testing.assert_close(probe.visible[cut], probe.originals[cut])
                    torch.testing.assert_close(probe.pasted[cut], probe.originals[cut])
    assert shown == 4 * 16 // 4                      # a quarter of the patches visible
    canvas = render_masking_grid(probe)
    assert canvas.shape == (*grid_size(4, 32 * cell_scale(32), 4), 3)
