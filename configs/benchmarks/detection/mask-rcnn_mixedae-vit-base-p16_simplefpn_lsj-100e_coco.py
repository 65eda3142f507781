# COCO instance segmentation with a MixedAE ViT-B/16: ViTDet's Mask R-CNN recipe (Li et al.
# 2022; mmdet projects/ViTDet "vitdet_mask-rcnn_vit-b-mae_lsj-100e"), the protocol MAE and
# MixedAE report AP^box / AP^mask with. 100 epochs = 184375 iterations at batch 64
# (16 GPUs x 4); 1024-px large-scale jitter; AdamW + layer decay 0.7; AMP.
#
# Pre-trained weights: any checkpoint with ``backbone.*`` keys (a MixedAE/MAE pre-training
# checkpoint, or the converter's mmpretrain/mmdet output), e.g.
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=ckpt.pth
#
# Known difference from ViTDet: the backbone has no decomposed relative position bias
# (ViTDet's ``use_rel_pos=True``); it uses the pre-trained absolute position embedding,
# interpolated to 64x64, in all blocks. Window attention (14x14, the 64x64 grid padded to
# 70x70) in blocks 0,1,3,4,6,7,9,10 and global attention in 2,5,8,11 are as in ViTDet.
#
# Reliability (configs/_base_/transfer_runtime.py): images load with
# CheckedLoadImageFromFile (an empty, truncated or missing image stops the run with its
# name; pipeline.0.skip_bad=True skips such training images with a counted warning),
# annotations with mmdet.CheckedLoadAnnotations (an instance without segmentation is
# named), DatasetCheckHook checks that every image the COCO json lists exists and that
# no annotation has a non-positive box, an unknown image or category id, or no
# segmentation, before training, PerIterationSeedHook makes --resume exact,
# NonFiniteLossHook stops on a NaN/Inf loss.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/default_runtime.py',
    '../../_base_/transfer_runtime.py',
]

image_size = (1024, 1024)
embed_dims = 768
num_layers = 12
norm_cfg = dict(type='LN2d', eps=1e-6)   # mixedae.transfer.norm

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        _delete_=True,
        type='mmdet.MixedAEViT',
        arch='b',
        img_size=image_size[0],
        patch_size=16,
        drop_path_rate=0.1,
        with_cls_token=False,
        out_type='featmap',
        final_norm=False,
        fixed_sincos_pos_embed=False,
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mixedae_vit-base-p16.pth',
                      prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmdet.SimpleFPN',
        backbone_channel=embed_dims,
        out_channels=256,
        num_outs=5,
        scale_factors=(4, 2, 1, 0.5),
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256,
                       norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# large-scale jitter
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='mmdet.CheckedLoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0),
         keep_ratio=True),
    dict(type='mmdet.RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='mmdet.Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='mmdet.PackDetInputs')
]
test_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='mmdet.Resize', scale=image_size, keep_ratio=True),
    dict(type='mmdet.Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='mmdet.CheckedLoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=8,
    batch_sampler=None,   # every image is 1024x1024 after the crop and pad
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# AdamW, lr 1e-4, wd 0.1 (none on biases, norms and the position embedding, as
# detectron2's ViTDet), layer decay 0.7 over the backbone's depth
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(layer_decay_rate=0.7, flat_decay_mult=0.0,
                       custom_keys={'backbone.pos_embed': dict(decay_mult=0.0)}))

max_iters = 184375
interval = 5000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    # 88 and 96 epochs
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[163889, 177546], gamma=0.1)
]
train_cfg = dict(
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=interval,
    dynamic_intervals=[(max_iters // interval * interval + 1, max_iters)])
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, save_last=True,
                    interval=interval, max_keep_ckpts=5))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
auto_scale_lr = dict(base_batch_size=64)
