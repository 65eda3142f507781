# MixedAE ViT-L/16, 800 epochs (ViT-B config with the encoder of MAE's ViT-L).
_base_ = './mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

model = dict(backbone=dict(arch='l'), neck=dict(embed_dim=1024))
