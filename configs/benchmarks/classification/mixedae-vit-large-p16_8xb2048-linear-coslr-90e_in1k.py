# ImageNet-1K linear probing of a pre-trained ViT-L/16 with MAE's protocol, exactly as
# mmpretrain publishes it (frozen encoder, [CLS] token after the final norm, BatchNorm
# without affine before the linear head, LARS lr 6.4 at batch 16384, 90 epochs), on the
# project's encoder (MixedAEViT in plain mode). Weights as for fine-tuning:
#   python tools/convert_checkpoint.py PRETRAIN.pth --to mmpretrain large.pth
#   tools/dist_train.sh THIS 8 --cfg-options model.backbone.init_cfg.checkpoint=large.pth
_base_ = [
    'mmpretrain::mae/benchmarks/vit-large-p16_8xb2048-linear-coslr-90e_in1k.py',
    '../../_base_/classification_runtime.py',
]

model = dict(
    backbone=dict(
        type='MixedAEViT',
        fixed_sincos_pos_embed=False,      # frozen anyway: the checkpoint's values
        init_cfg=dict(checkpoint='checkpoints/mixedae_vit-large-p16_mmpretrain.pth')))

# mmpretrain's pipelines, inherited, with the checked image loader
train_pipeline = [dict(step, type=_base_.checked_loaders.get(step.type, step.type))
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, type=_base_.checked_loaders.get(step.type, step.type))
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
