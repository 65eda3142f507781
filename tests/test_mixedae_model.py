"""The MixedAE algorithm, its variants and their build-time checks."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from conftest import CONFIGS

TINY = 'demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'


def build_model(name: str, **backbone):
    cfg = Config.fromfile(str(CONFIGS / name))
    cfg.model.backbone.update(backbone)
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_mixedae_loss_logs_every_term_and_backpropagates():
    torch.manual_seed(0)
    model = build_model(TINY)
    losses = model(torch.randn(8, 3, 32, 32), mode='loss')
    assert set(losses) == {'loss_rec', 'loss_hc', 'homo_acc'}
    assert 0 <= losses['homo_acc'] <= 1
    total, log_vars = model.parse_losses(losses)
    assert set(log_vars) == {'loss', 'loss_rec', 'loss_hc', 'homo_acc'}
    total.backward()
    assert model.backbone.segment_embed.grad is not None
    assert model.backbone.layers[0].attn.qkv.weight.grad.abs().sum() > 0


def test_naive_mix_has_no_topk_and_no_contrastive_loss():
    model = build_model('demo/naive-mix_vit-tiny-p8_1xb32-300i_tiny.py')
    assert model.backbone.homologous_layers == set()
    assert model.backbone.segment_embed is None
    assert model.head.contrastive_loss is None
    losses = model(torch.randn(8, 3, 32, 32), mode='loss')
    assert set(losses) == {'loss_rec'}


def test_mae_config_is_mmpretrain_mae():
    from mmpretrain.models import MAE, MAEViT
    model = build_model('demo/mae_vit-tiny-p8_1xb32-300i_tiny.py')
    assert type(model) is MAE and type(model.backbone) is MAEViT
    cfg = Config.fromfile(str(CONFIGS / 'mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'))
    assert cfg.model.type == 'MAE' and cfg.model.backbone.type == 'MAEViT'


def test_plain_forward_is_an_unmixed_vit():
    model = build_model(TINY).eval()
    feats = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert feats[0].shape == (2, 17, 64)


@pytest.mark.parametrize('options, match', [
    (dict(mix_ratio=1), 'mix_ratio must be >= 2'),
    (dict(mix_ratio=3), 'divide the number of patches'),
    (dict(topk_ratio=0.01), r'outside \[1, N=16\]'),
    (dict(topk_ratio=1.5), r'outside \[1, N=16\]'),
    (dict(img_size=36), 'not divisible by patch_size'),
    (dict(homologous_layers=[7]), 'outside'),
])
def test_bad_options_fail_at_build_time(options, match):
    with pytest.raises(ValueError, match=match):
        build_model(TINY, **options)


def test_batch_not_divisible_by_r_fails_before_training(tmp_path):
    from mixedae.engine.config_checks import check_pretrain_config
    cfg = Config.fromfile(str(CONFIGS / TINY))
    cfg.train_dataloader.batch_size = 30
    with pytest.raises(ValueError, match='batch_size=30'):
        check_pretrain_config(cfg)
    model = build_model(TINY)
    with pytest.raises(ValueError, match='batch_size=6'):
        model(torch.randn(6, 3, 32, 32), mode='loss')


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_amp_autocast_on_cpu(dtype):
    torch.manual_seed(0)
    model = build_model(TINY)
    with torch.autocast('cpu', dtype=dtype):
        losses = model(torch.randn(8, 3, 32, 32), mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()


def test_option_variants_run():
    """Ablation switches: i.i.d. mixing, decoder-only segment embedding, Top-K in some
    blocks, [CLS] restricted, projector."""
    cfg = Config.fromfile(str(CONFIGS / TINY))
    cfg.model.backbone.update(balanced_mixing=False, segment_embed=False,
                              homologous_layers=[2, 3], cls_query='topk', topk_ratio=0.5)
    cfg.model.neck.segment_embed = True
    cfg.model.head.projector = dict(in_channels=64, hidden_channels=64, out_channels=32)
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.backbone.topk == 9
    losses = model(torch.randn(8, 3, 32, 32), mode='loss')
    assert set(losses) == {'loss_rec', 'loss_hc', 'homo_acc'}
    model.parse_losses(losses)[0].backward()
    assert model.neck.segment_embed.grad is not None


@pytest.mark.parametrize('config', [TINY, 'demo/mae_vit-tiny-p8_1xb32-300i_tiny.py'])
def test_crop_size_other_than_img_size_is_named(config):
    """A crop of another size than the model's img_size fails before training, naming
    both settings (not with the position embedding's bare shape error)."""
    from mixedae.engine.config_checks import check_pretrain_config
    cfg = Config.fromfile(str(CONFIGS / config))
    check_pretrain_config(cfg)
    cfg.train_dataloader.dataset.pipeline[1].scale = 48
    with pytest.raises(ValueError, match=r'pipeline\[1\] \(RandomResizedCrop\) makes 48x48 '
                       r'images but model.backbone.img_size is 32: set '
                       r'RandomResizedCrop.scale and model.backbone.img_size'):
        check_pretrain_config(cfg)
