# mmpretrain's MAE on the embedded tiny dataset: the tiny MixedAE config (same data,
# schedule and model size) with mmpretrain's MAE model.
_base_ = './mixedae_vit-tiny-p8_1xb32-300i_tiny.py'

model = dict(
    _delete_=True,
    type='MAE',
    backbone=dict(type='MAEViT', arch={{_base_.tiny_arch}}, img_size={{_base_.img_size}},
                  patch_size={{_base_.patch_size}}, mask_ratio=0.75),
    neck=dict(type='MAEPretrainDecoder', num_patches={{_base_.num_patches}},
              patch_size={{_base_.patch_size}}, embed_dim=64, decoder_embed_dim=64,
              decoder_depth=2, decoder_num_heads=4, mlp_ratio=4.),
    head=dict(type='MAEPretrainHead', norm_pix=True, patch_size={{_base_.patch_size}},
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])
