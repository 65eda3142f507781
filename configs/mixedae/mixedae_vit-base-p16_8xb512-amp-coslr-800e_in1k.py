# MixedAE ViT-B/16, 800 epochs, ImageNet-1K (mmpretrain layout under data/imagenet/),
# 8 GPUs x 512 images = 4096 (lr 1.5e-4 x 4096 / 256; another total: --cfg-options
# protocol.batch_mismatch=scale or =accumulate, ../_base_/pretrain_runtime.py).
# Everything but the model is MAE's recipe, inherited from the MAE config.
# Defaults and open questions: ../../README.md#mixedae-options and method.md.
_base_ = '../mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

model = dict(
    type='MixedAE',
    backbone=dict(
        _delete_=True,
        type='MixedAEViT',
        arch='b',
        patch_size=16,
        mix_ratio=4,                   # r: images per mix; must divide the per-GPU batch
        balanced_mixing=True,          # each image owns exactly N/r positions
        segment_embed=True,            # encoder placement of the segment embedding
        topk_ratio=None,               # K = N/r + 1 of all 1 + N keys ([CLS] not forced in)
        homologous_layers=None,        # None: Top-K attention in every block
        cls_query='full',              # [CLS] query attends to all keys
        fixed_sincos_pos_embed=True,
        out_type='raw'),               # plain features (extract_feat) as MAEViT's
    neck=dict(type='MixedAEDecoder', segment_embed=False),  # mix_ratio: from backbone
    head=dict(
        type='MixedAEHead',
        contrastive_loss=dict(
            type='HomologousContrastiveLoss', temperature=0.2, loss_weight=0.1),
        projector=None))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(segment_embed=dict(decay_mult=0.))))

# Mixing groups are formed inside each GPU's batch: drop a ragged last batch.
train_dataloader = dict(drop_last=True)
