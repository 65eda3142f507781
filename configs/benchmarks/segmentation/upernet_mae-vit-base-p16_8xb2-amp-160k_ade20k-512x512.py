# MAE's ADE20K protocol exactly as published by mmseg (its ``MAE`` backbone with layer
# scale and relative position bias learnt during fine-tuning, UperNet, 160k iterations,
# batch 16, layer decay 0.65 with mmseg's own constructor), fed by our pre-training
# checkpoints, MAE or MixedAE alike (both encoders are plain ViTs after pre-training).
# Convert them first (mmseg's ``MAE`` ignores ``prefix`` and loads with strict=False, so
# an unconverted checkpoint loads nothing):
#   python tools/convert_checkpoint.py mae.pth --to mmseg mae_mmseg.pth
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=mae_mmseg.pth
# Differences from the inherited config: weights come through ``init_cfg`` (not
# ``model.pretrained``), and AMP is real (the base sets an unused ``fp16`` key and fp32
# ``OptimWrapper``).
_base_ = 'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mixedae'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/mae_vit-base-p16_mmseg.pth')))

fp16 = None
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
