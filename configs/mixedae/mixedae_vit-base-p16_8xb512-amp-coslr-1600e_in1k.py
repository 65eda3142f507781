# MixedAE ViT-B/16, 1600 epochs (the 800-epoch config with MAE's 1600-epoch schedule).
_base_ = './mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=1560, by_epoch=True, begin=40, end=1600,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1600)
