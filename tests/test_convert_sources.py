"""Converter sources: the files researchers hold, built from the upstream key schemes (timm's
``VisionTransformer``, facebookresearch/mae's checkpoint dicts, mmengine Runner checkpoints
in zip and legacy format, mmseg's own ``beit2mmseg.py``), each detected and converted to
every target with every value checked; official MAE weights give the project's features in
timm; ViT-B/16, L/16 and H/14 key schemes; bad input gives a clear error and no file."""
import argparse
import importlib.util
import os
from pathlib import Path

import pytest
import torch
from mmengine.utils import get_installed_path
from safetensors.torch import save_file

from conftest import TINY_MAE, save_pretraining_checkpoint
from mixedae.convert import FORMATS, TARGETS, ConversionError, convert_checkpoint, detect
from mixedae.convert.encoder import check_encoder_keys, infer_arch
from mixedae.convert.sources import encoder_weights
from mixedae.convert.targets import to_timm

TINY = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4)
BEIT2MMSEG = Path(get_installed_path('mmseg')) / '.mim/tools/model_converters/beit2mmseg.py'


def upstream_beit2mmseg():
    """mmseg's own ``tools/model_converters/beit2mmseg.py`` (shipped with the package)."""
    spec = importlib.util.spec_from_file_location('beit2mmseg', BEIT2MMSEG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timm_vit(seed: int = 0, **arch) -> torch.nn.Module:
    """timm's ViT (no classifier, as MAE pre-training has none), every weight moved off
    its init value so that each tensor is distinct."""
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(seed)
    model = VisionTransformer(num_classes=0, **{**TINY, **arch})
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model.eval()


def mae_decoder(embed_dim: int, num_patches: int, patch_size: int) -> dict:
    """The pre-training-only part of facebookresearch/mae's ``MaskedAutoencoderViT``
    state dict (its key names, a 32-wide, 1-block decoder)."""
    from timm.models.vision_transformer import Block
    dim = 32
    block = {f'decoder_blocks.0.{k}': v for k, v in Block(dim, 4).state_dict().items()}
    return {'mask_token': torch.randn(1, 1, dim),
            'decoder_embed.weight': torch.randn(dim, embed_dim),
            'decoder_embed.bias': torch.randn(dim),
            'decoder_pos_embed': torch.randn(1, num_patches + 1, dim), **block,
            'decoder_norm.weight': torch.randn(dim), 'decoder_norm.bias': torch.randn(dim),
            'decoder_pred.weight': torch.randn(patch_size**2 * 3, dim),
            'decoder_pred.bias': torch.randn(patch_size**2 * 3)}


def mae_training_checkpoint(encoder: dict) -> dict:
    """What MAE's ``main_pretrain.py`` saves (``misc.save_model``): model with decoder,
    AdamW state, loss-scaler state, epoch, and ``args`` as an ``argparse.Namespace``."""
    model = {**encoder, **mae_decoder(64, 16, 8)}
    params = [torch.nn.Parameter(v.clone()) for v in model.values()]
    optimizer = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95))
    sum(p.sum() for p in params).backward()
    optimizer.step()
    args = argparse.Namespace(model='mae_vit_base_patch16', mask_ratio=0.75, norm_pix_loss=True,
                              epochs=800, blr=1.5e-4, output_dir='./output_dir', seed=0)
    return {'model': model, 'optimizer': optimizer.state_dict(), 'epoch': 799,
            'scaler': {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5,
                       'growth_interval': 2000, '_growth_tracker': 12}, 'args': args}


def canonical_names(timm_keys) -> dict:
    """timm name -> mmpretrain name by mmseg's beit2mmseg mapping, an oracle independent of
    ours (it leaves the final norm as ``norm``: mmpretrain's ``ln1``; and it also keeps the
    patch embedding under its timm name: not a mapping)."""
    names = {}
    for new_key, timm_key in upstream_beit2mmseg().convert_beit(
            {k: k for k in timm_keys}).items():
        if new_key == timm_key and new_key.startswith('patch_embed.proj.'):
            continue
        key = new_key.removeprefix('backbone.')                  # mmseg 0.x adds it
        names[timm_key] = 'ln1.' + key[len('norm.'):] if key.startswith('norm.') else key
    return names


@pytest.fixture(scope='module')
def timm_source() -> dict:
    return timm_vit().state_dict()


@pytest.fixture(scope='module')
def sources(tmp_path_factory, timm_source) -> dict:
    """Every layout as a file: name -> (path, detected format, expected encoder in
    mmpretrain names, with the source tensors themselves)."""
    root = tmp_path_factory.mktemp('sources')
    canonical = canonical_names(timm_source)
    from_timm = {canonical[k]: v for k, v in timm_source.items()}
    beit = upstream_beit2mmseg().convert_beit(timm_source)
    mmengine = save_pretraining_checkpoint(root / 'mmpretrain_mae.pth', config=TINY_MAE)
    mmengine_encoder = {k[len('backbone.'):]: v for k, v in mmengine.items()
                        if k.startswith('backbone.')}
    torch.save({'state_dict': mmengine, 'meta': {'epoch': 800}}, root / 'mae_zoo_legacy.pth',
               _use_new_zipfile_serialization=False)   # as OpenMMLab's publish script
    files = {
        'mmengine-zip': ('mmpretrain_mae.pth', None, 'mmengine', mmengine_encoder),
        'mmengine-legacy': ('mae_zoo_legacy.pth', None, 'mmengine', mmengine_encoder),
        'mae-release': ('mae_pretrain_vit_tiny.pth', {'model': timm_source}, 'mae',
                        from_timm),
        'mae-training': ('checkpoint-799.pth', mae_training_checkpoint(timm_source), 'mae',
                         from_timm),
        'timm-pth': ('vit_tiny_mae.pth', timm_source, 'timm', from_timm),
        'timm-bin': ('pytorch_model.bin', timm_source, 'timm', from_timm),
        'timm-safetensors': ('model.safetensors', timm_source, 'timm', from_timm),
        'beit2mmseg': ('mae_beit2mmseg.pth', beit, 'beit2mmseg', from_timm),
    }
    out = {}
    for name, (file, content, fmt, expected) in files.items():
        path = root / file
        if name == 'timm-safetensors':
            save_file({k: v.contiguous() for k, v in content.items()}, path)
        elif content is not None:
            torch.save(content, path)
        out[name] = (path, fmt, expected)
    return out


def expected_output(encoder: dict, target: str) -> dict:
    """What each target holds, from the expected encoder: prefix, dropped parts (mmdet: no
    [CLS] token, slot or final norm; mmseg: no final norm), timm names by the oracle."""
    if target == 'mmpretrain':
        return {'backbone.' + k: v for k, v in encoder.items()}
    if target == 'mmdet':
        out = {'backbone.' + k: v for k, v in encoder.items()
               if k != 'cls_token' and not k.startswith('ln1.')}
        out['backbone.pos_embed'] = encoder['pos_embed'][:, 1:]
        return out
    if target == 'mmseg':
        return {k: v for k, v in encoder.items() if not k.startswith('ln1.')}
    depth = 1 + max(int(k.split('.')[1]) for k in encoder if k.startswith('layers.'))
    timm_keys = timm_vit(depth=depth).state_dict()
    names = {ours: theirs for theirs, ours in canonical_names(timm_keys).items()}
    return {names[k]: v for k, v in encoder.items()}


@pytest.mark.parametrize('target', sorted(TARGETS))
@pytest.mark.parametrize('layout', ['mmengine-zip', 'mmengine-legacy', 'mae-release',
                                    'mae-training', 'timm-pth', 'timm-bin',
                                    'timm-safetensors', 'beit2mmseg'])
def test_every_layout_converts_to_every_target_with_equal_tensors(sources, tmp_path, layout,
                                                                   target):
    path, fmt, encoder = sources[layout]
    out = tmp_path / 'out.pth'
    report = convert_checkpoint(str(path), target, str(out))
    assert report.source.startswith(FORMATS[fmt])
    assert report.arch.embed_dims == 64 and report.arch.patch_size == 8
    assert report.arch.img_size == 32 and report.arch.with_cls_token
    assert report.arch.num_layers == (4 if fmt == 'mmengine' else 2)
    written = torch.load(out, weights_only=True)
    written = written['state_dict'] if TARGETS[target].wrap_state_dict else written
    expected = expected_output(encoder, target)
    assert sorted(written) == sorted(expected)
    for key, value in written.items():
        assert torch.equal(value, expected[key]), key
    assert sorted(tmp_path.iterdir()) == [out]


def test_forced_format(sources, tmp_path):
    """``--from`` accepts the file's own format and refuses another, naming both."""
    path, fmt, _ = sources['mae-training']
    convert_checkpoint(str(path), 'timm', str(tmp_path / 'ok.pth'), source_format='mae')
    with pytest.raises(ConversionError) as error:
        convert_checkpoint(str(path), 'timm', str(tmp_path / 'bad.pth'), source_format='timm')
    message = str(error.value)
    assert str(path) in message and 'not a timm ViT state dict' in message
    assert "'blocks.0.attn.qkv.weight'" in message and FORMATS['mae'] in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ok.pth']


def test_official_mae_in_timm_gives_the_project_encoder_features(sources, tmp_path):
    """An MAE training checkpoint converted --to timm loads strictly into timm's ViT, and
    --to mmpretrain into MixedAEViT (through its Pretrained init, as the transfer configs
    load it): their features equal each other's and those of the source model."""
    from mmpretrain.registry import MODELS
    from mmengine.registry import DefaultScope
    from timm.models.vision_transformer import VisionTransformer
    path = sources['mae-training'][0]
    convert_checkpoint(str(path), 'timm', str(tmp_path / 'timm.pth'))
    convert_checkpoint(str(path), 'mmpretrain', str(tmp_path / 'cls.pth'))
    timm_model = VisionTransformer(num_classes=0, **TINY).eval()
    timm_model.load_state_dict(torch.load(tmp_path / 'timm.pth', weights_only=True),
                               strict=True)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        ours = MODELS.build(dict(
            type='MixedAEViT', arch=dict(embed_dims=64, num_layers=2, num_heads=4,
                                         feedforward_channels=256),
            img_size=32, patch_size=8, out_type='raw', fixed_sincos_pos_embed=False,
            init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'cls.pth'),
                          prefix='backbone.')))
    ours.init_weights()
    ours.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        theirs = timm_model.forward_features(x)
        source = timm_vit().forward_features(x)
        mine = ours(x)[0]
    assert theirs.shape == mine.shape == (2, 17, 64)
    torch.testing.assert_close(theirs, source, rtol=0, atol=0)
    torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('model_name, sizes', [
    ('vit_base_patch16_224', (768, 12, 12, 3072, 16, 224)),
    ('vit_large_patch16_224', (1024, 24, 16, 4096, 16, 224)),
    ('vit_huge_patch14_224', (1280, 32, 16, 5120, 14, 224)),
], ids=['B16', 'L16', 'H14'])
def test_standard_sizes_key_schemes(model_name, sizes):
    """ViT-B/16, L/16, H/14 (on the meta device): an official MAE dict's encoder has the
    keys and shapes of mmpretrain's ViT of that arch and round-trips to timm's keys; the
    sizes (heads: the standard ones) come out right."""
    import timm
    from mmpretrain.models import VisionTransformer
    with torch.device('meta'):
        source = timm.create_model(model_name, pretrained=False, num_classes=0,
                                   weight_init='skip').state_dict()
        arch = {768: 'b', 1024: 'l', 1280: 'h'}[sizes[0]]
        mmpretrain = VisionTransformer(arch=arch, img_size=224, patch_size=sizes[4]).state_dict()
    assert detect({'model': source}) == 'mae' and detect(source) == 'timm'
    encoder = encoder_weights({'model': source}, 'mae', 'official')
    check_encoder_keys(encoder, 'official')
    a = infer_arch(encoder)
    assert (a.embed_dims, a.num_layers, a.num_heads, a.feedforward_channels, a.patch_size,
            a.img_size) == sizes
    assert {k: v.shape for k, v in encoder.items()} == {k: v.shape
                                                         for k, v in mmpretrain.items()}
    assert {k: v.shape for k, v in to_timm(encoder).items()} == {k: v.shape
                                                                  for k, v in source.items()}


# ---------------------------------------------------------------- bad input


class Payload:
    """Pickles as a call of ``os.system``: what a malicious checkpoint would hide."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def truncated(make):
    def write(path: Path, source: dict) -> None:
        make(path, source)
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    return write


BAD_INPUTS = {
    'truncated-zip': (truncated(lambda p, s: torch.save({'model': s}, p)),
                      'truncated or damaged PyTorch zip file'),
    'truncated-legacy': (truncated(lambda p, s: torch.save(
        {'model': s}, p, _use_new_zipfile_serialization=False)), 'torch legacy file'),
    'truncated-safetensors': (truncated(lambda p, s: save_file(s, p)),
                              'safetensors file'),
    'random-bytes': (lambda p, s: p.write_bytes(os.urandom(4096)),
                     r'neither a PyTorch file \(zip or legacy format\) nor a safetensors file'),
    'malicious-pickle': (lambda p, s: torch.save({'model': s, 'args': Payload(p.with_name(
        'marker'))}, p), 'refused to load'),
    'malicious-legacy': (lambda p, s: torch.save({'model': s, 'args': Payload(p.with_name(
        'marker'))}, p, _use_new_zipfile_serialization=False), 'torch legacy file'),
    'timm-classifier': (lambda p, s: torch.save(
        {**s, 'head.weight': torch.zeros(10, 64), 'head.bias': torch.zeros(10)}, p),
        r'timm ViT state dict, torch zip file\): weights of a downstream model'),
    'mae-finetuned': (lambda p, s: torch.save({'model': {
        **s, 'fc_norm.weight': torch.ones(64), 'head.weight': torch.zeros(10, 64)}}, p),
        r'official MAE checkpoint .*zip file\): weights of a downstream model'),
    'mmdet-detector': (lambda p, s: torch.save({'state_dict': {
        'backbone.patch_embed.projection.weight': torch.zeros(64, 3, 8, 8),
        'roi_head.bbox_head.fc_cls.weight': torch.zeros(4, 64)}}, p),
        r"mmengine pre-training .*: weights of a downstream model \(keys such as 'roi_head"),
    'no-encoder': (lambda p, s: torch.save({'state_dict': {'head.x': torch.zeros(1)}}, p),
                   'no ViT encoder weights in any known layout'),
    'missing-block-weights': (lambda p, s: torch.save(
        {k: v for k, v in s.items() if k != 'blocks.1.mlp.fc2.weight'}, p),
        r"timm ViT state dict, torch zip file\): ViT encoder weights missing: "
        r"\['layers.1.ffn.layers.1.weight'\]"),
    'not-a-plain-vit': (lambda p, s: torch.save(
        {**s, 'blocks.0.ls1.gamma': torch.ones(64)}, p),
        r"keys outside a plain ViT encoder: \['blocks.0.ls1.gamma'\]"),
    'a-tensor': (lambda p, s: torch.save(torch.zeros(3), p), 'holding a Tensor'),
}


@pytest.mark.parametrize('case', sorted(BAD_INPUTS))
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, timm_source, case):
    make, message = BAD_INPUTS[case]
    src = tmp_path / 'in.pth'
    make(src, timm_source)
    out = tmp_path / 'out' / 'converted.pth'
    with pytest.raises(ConversionError, match=message) as error:
        convert_checkpoint(str(src), 'mmpretrain', str(out))
    assert str(error.value).startswith(str(src))
    assert not (tmp_path / 'marker').exists()       # the pickled call never ran
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())
