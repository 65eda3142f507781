"""Checkpoint converter: every target from MixedAE and MAE checkpoints, the timm
equivalence at ViT-B/16, and bad inputs (clear error, no output file)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from conftest import CONFIGS, ROOT, TINY_MAE, TINY_MIXEDAE, save_pretraining_checkpoint
from mixedae.convert import TARGETS, ConversionError, convert_checkpoint

PRETRAIN_ONLY = ('backbone.segment_embed', 'neck.', 'head.')


def load(path: Path) -> dict:
    checkpoint = torch.load(path, weights_only=True)
    return checkpoint.get('state_dict', checkpoint)


@pytest.mark.parametrize('config', [TINY_MIXEDAE, TINY_MAE], ids=['mixedae', 'mae'])
@pytest.mark.parametrize('target', sorted(TARGETS))
def test_conversion_keeps_exactly_the_encoder(tmp_path, config, target):
    source = save_pretraining_checkpoint(tmp_path / 'pre.pth', config=config)
    report = convert_checkpoint(str(tmp_path / 'pre.pth'), target, str(tmp_path / 'out.pth'),
                                num_heads=4)
    out = load(tmp_path / 'out.pth')
    assert sorted(tmp_path.iterdir()) == [tmp_path / 'out.pth', tmp_path / 'pre.pth']
    assert report.arch.embed_dims == 64 and report.arch.num_layers == 4
    assert report.arch.img_size == 32 and report.arch.patch_size == 8

    encoder = {k: v for k, v in source.items()
               if k.startswith('backbone.') and not k.startswith(PRETRAIN_ONLY)}
    dropped = {'mmpretrain': set(), 'timm': set(), 'mmdet': {'cls_token', 'ln1.weight',
               'ln1.bias'}, 'mmseg': {'ln1.weight', 'ln1.bias'}}[target]
    assert len(out) == len(encoder) - len(dropped) == report.num_tensors
    # every value is a source value (pos_embed without its [CLS] slot for mmdet)
    source_values = {k[len('backbone.'):]: v for k, v in encoder.items()}
    flat = {tuple(v.flatten()[:8].tolist()): v for v in source_values.values()}
    for key, value in out.items():
        if target == 'mmdet' and key == 'backbone.pos_embed':
            torch.testing.assert_close(value, source_values['pos_embed'][:, 1:])
            continue
        match = flat[tuple(value.flatten()[:8].tolist())]
        torch.testing.assert_close(value, match, msg=key)
    assert not any('segment_embed' in k or 'mask_token' in k or 'decoder' in k for k in out)
    if target in ('mmpretrain', 'mmdet'):
        assert all(k.startswith('backbone.') for k in out)
    if target == 'mmseg':
        assert set(report.missing) and all(
            k.split('.')[-1] in ('gamma_1', 'gamma_2', 'relative_position_bias_table',
                                 'relative_position_index') for k in report.missing)
    elif target == 'mmdet':                   # ViTDet's relative position tables
        assert sorted(report.missing) == sorted(
            f'layers.{i}.attn.rel_pos_{axis}' for i in range(4) for axis in 'hw')
    else:
        assert report.missing == ()


def test_timm_vit_base_loads_strictly_and_gives_the_same_features(tmp_path):
    """``timm.create_model('vit_base_patch16_224')`` (no classifier: pre-training has
    none) loads the converted MixedAE ViT-B/16 with strict=True; its features equal the
    encoder's plain-attention features."""
    import timm
    from mmpretrain.registry import MODELS
    config = CONFIGS / 'mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'
    cfg = Config.fromfile(str(config))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        encoder = MODELS.build(cfg.model.backbone)
    encoder.init_weights()
    torch.manual_seed(0)
    with torch.no_grad():
        for param in encoder.parameters():           # biases and LN off their init values
            param.add_(torch.randn_like(param) * 0.02)
    state = {'backbone.' + k: v for k, v in encoder.state_dict().items()}
    torch.save({'state_dict': state}, tmp_path / 'pre.pth')

    report = convert_checkpoint(str(tmp_path / 'pre.pth'), 'timm', str(tmp_path / 'timm.pth'))
    assert report.arch.num_heads == 12 and report.arch.img_size == 224
    model = timm.create_model('vit_base_patch16_224', pretrained=False, num_classes=0)
    model.load_state_dict(torch.load(tmp_path / 'timm.pth', weights_only=True), strict=True)

    x = torch.randn(2, 3, 224, 224)
    encoder.eval()
    model.eval()
    with torch.no_grad():
        ours = encoder(x)[0]                         # plain attention, final norm: (2, 197, 768)
        theirs = model.forward_features(x)
    assert ours.shape == theirs.shape == (2, 197, 768)
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-4)


def detector_checkpoint(path: Path) -> None:
    """A detector's weights: our backbone keys plus mmdet heads."""
    state = {'backbone.patch_embed.projection.weight': torch.zeros(64, 3, 8, 8),
             'roi_head.bbox_head.fc_cls.weight': torch.zeros(4, 64)}
    torch.save({'state_dict': state}, path)


class Payload:
    def __reduce__(self):
        return (print, ('unpickled',))


@pytest.mark.parametrize('make, message', [
    (lambda p: None, 'no such checkpoint file'),
    (lambda p: p.write_text('not a checkpoint'), 'not a checkpoint: neither a PyTorch'),
    (lambda p: torch.save({'state_dict': {'head.x': torch.zeros(1)}}, p),
     'no ViT encoder weights'),
    (detector_checkpoint, 'weights of a downstream model'),
    (lambda p: torch.save({'state_dict': {}, 'meta': Payload()}, p), 'refused to load'),
], ids=['missing', 'not-torch', 'no-encoder', 'detector', 'pickled-object'])
def test_bad_input_gives_a_clear_error_and_no_file(tmp_path, make, message):
    src = tmp_path / 'in.pth'
    make(src)
    out = tmp_path / 'out' / 'converted.pth'
    with pytest.raises(ConversionError, match=message) as error:
        convert_checkpoint(str(src), 'mmdet', str(out))
    assert str(src) in str(error.value)
    assert not out.exists() and not list(tmp_path.glob('out/*'))


def test_unknown_target_and_shape_mismatch(tmp_path):
    save_pretraining_checkpoint(tmp_path / 'pre.pth')
    with pytest.raises(ConversionError, match="unknown target 'mmocr'"):
        convert_checkpoint(str(tmp_path / 'pre.pth'), 'mmocr', str(tmp_path / 'out.pth'))
    with pytest.raises(ConversionError, match='num_heads'):    # 64 dims, 5 heads
        convert_checkpoint(str(tmp_path / 'pre.pth'), 'timm', str(tmp_path / 'out.pth'),
                           num_heads=5)
    assert not (tmp_path / 'out.pth').exists()


def test_command_line(tmp_path):
    save_pretraining_checkpoint(tmp_path / 'pre.pth')
    tool = [sys.executable, str(ROOT / 'tools/convert_checkpoint.py')]
    ok = subprocess.run([*tool, str(tmp_path / 'pre.pth'), '--to', 'mmpretrain',
                         str(tmp_path / 'cls.pth'), '--num-heads', '4'],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert 'unexpected keys: none, missing keys: none' in ok.stdout
    bad = subprocess.run([*tool, str(tmp_path / 'absent.pth'), '--to', 'timm',
                          str(tmp_path / 'x.pth')], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and 'absent.pth: no such checkpoint file' in bad.stderr
    assert not (tmp_path / 'x.pth').exists()
