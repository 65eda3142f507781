# COCO instance segmentation with a MixedAE ViT-B/16: ViTDet's Mask R-CNN recipe (Li et al.
# 2022; mmdet projects/ViTDet "vitdet_mask-rcnn_vit-b-mae_lsj-100e"), the protocol MAE and
# MixedAE report AP^box / AP^mask with. 100 epochs = 184375 iterations at batch 64
# (16 GPUs x 4); 1024-px large-scale jitter; AdamW + layer decay 0.7; AMP.
#
# Batch: the recipe's 64 images per step are held on any number of GPUs
# (mixedae/engine/recipe_batch.py): 16 GPUs x 4 as is; on 8 GPUs x 4 pass
#   --cfg-options protocol.batch_mismatch=accumulate   (2 micro-batches per step, exact)
# or =scale (batch 32: lr x 0.5, every iteration count x 2); any other product stops
# with an error naming both numbers.
#
# Pre-trained weights: any checkpoint with ``backbone.*`` keys (a MixedAE/MAE pre-training
# checkpoint, or the converter's mmpretrain/mmdet output), e.g.
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=ckpt.pth
#
# Backbone as ViTDet's: window attention (14x14, the 64x64 grid padded to 70x70) in blocks
# 0,1,3,4,6,7,9,10 and global attention in 2,5,8,11; decomposed relative position bias in
# every block (``use_rel_pos``, zero-initialised: pre-training does not give it); the
# pre-trained 14x14 absolute position embedding kept at that size and interpolated once per
# forward to the input's grid (``pretrain_img_size``); patches crop, not pad, an input
# that the patch size does not divide. Neck: ViTDet's SimpleFPN (its arguments and
# parameter names), registered as ``mixedae.SimpleFPN`` beside mmdet's projects/ViTDet.
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
norm_cfg = dict(type='mixedae.LN2d', eps=1e-6)   # mixedae.transfer.norm

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        _delete_=True,
        type='mmdet.MixedAEViT',
        arch='b',
        img_size=image_size[0],
        patch_size=16,
        patch_cfg=dict(padding=0),
        drop_path_rate=0.1,
        with_cls_token=False,
        out_type='featmap',
        final_norm=False,
        fixed_sincos_pos_embed=False,
        window_size=14,
        window_block_indexes=[0, 1, 3, 4, 6, 7, 9, 10],
        use_rel_pos=True,
        pretrain_img_size=224,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/mixedae_vit-base-p16.pth',
                      prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mixedae.SimpleFPN',
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

# mmdet's CocoMetric (arguments inherited) that also keeps its detections, which
# PerSampleHook writes to per_sample/ (configs/_base_/transfer_runtime.py)
val_evaluator = dict(type='mmdet.PerSampleCocoMetric')
test_evaluator = val_evaluator

# AdamW, lr 1e-4, wd 0.1, layer decay 0.7 over the backbone's depth. Weight decay as
# detectron2's ViTDet (configs/common/optim.py AdamW: get_default_optimizer_params with
# weight_decay_norm=0, overrides {'pos_embed': weight_decay 0}): none on the position
# embedding and on torch.nn.LayerNorm parameters, i.e. the backbone blocks' ln1 / ln2;
# 0.1 on every other parameter, biases included, and on the neck's and heads' channel
# LayerNorms (detectron2's LayerNorm there is not a torch.nn.LayerNorm, so its
# weight_decay_norm misses them). mmdet's port differs: no decay on any 1-D parameter.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(layer_decay_rate=0.7,
                       custom_keys={'backbone.pos_embed': dict(decay_mult=0.0),
                                    '.ln1.': dict(decay_mult=0.0),
                                    '.ln2.': dict(decay_mult=0.0)}))

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

# The protocol this config implements (benchmarks/published_results.json) and the recipe's
# images per optimizer step; auto_scale_lr states the same number, as mmdet's port does.
protocol = dict(name='vitdet-mask-rcnn', total_batch=64, batch_mismatch='error')
auto_scale_lr = dict(base_batch_size=64)
# Each rank draws its own drop-path masks and augmentations (detectron2 seeds seed + rank);
# PerIterationSeedHook replays them exactly on resume.
randomness = dict(seed=0, diff_rank_seed=True)

# log to vis_data/scalars.json (the tables read it) and to TensorBoard
visualizer = dict(vis_backends={{_base_.local_and_tensorboard}})
