# Mask R-CNN with the tiny MixedAE ViT (configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py:
# width 64, 4 blocks, 4 heads, 8-px patches) on the tiny COCO set (tools/make_tiny_datasets.py,
# 64 px, 3 classes, 128 train / 256 val scenes): the ViT-B recipe scaled down for a CPU run
# of under a minute. 64 px rather than 128: objects of 10-19 px radius, the scale of the
# tiny ImageNet objects the encoder was pre-trained on (8-13 px), and a 0.16-s step instead
# of 0.3 s, so that 200 iterations fit the demo.
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=<pre-training ckpt>
# Loaders and hooks (checked image loader, DatasetCheckHook, ...) as in the ViT-B config.
_base_ = '../benchmarks/detection/mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py'

image_size = (64, 64)
data_root = 'data/tiny/coco/'
metainfo = dict(classes=('circle', 'square', 'triangle'))   # mixedae.data.COCO_CLASSES
num_classes = 3
max_iters = 12                      # the demo runs 200 (configs/pipelines/demo.py)

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=4,
                  feedforward_channels=256),
        img_size=image_size[0],
        patch_size=8,
        pretrain_img_size=32,               # the tiny pre-training's 4x4 position grid
        window_size=4,                      # 8x8 grid: 2x2 windows
        window_block_indexes=[0, 2],
        init_cfg=dict(checkpoint='work_dirs/mixedae_vit-tiny-p8_1xb32-300i_tiny/'
                      'iter_300.pth')),
    # 8-px patches: strides 4, 8, 16, 32 (+64) come from (2, 1, 0.5, 0.25)
    neck=dict(backbone_channel=64, out_channels=32, scale_factors=(2, 1, 0.5, 0.25)),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, conv_out_channels=32, fc_out_channels=64,
                       num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32, num_classes=num_classes)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=200, max_per_img=100),
                   rcnn=dict(sampler=dict(num=64))),
    # a score threshold near 0 so that a few iterations give boxes to evaluate
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100),
                  rcnn=dict(score_thr=1e-3, max_per_img=20)))

train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='mmdet.CheckedLoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.5, 1.5),
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
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 filter_cfg=dict(filter_empty_gt=True, min_size=4),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# fp32: AmpOptimWrapper needs a GPU
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[10], gamma=0.1)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters, dynamic_intervals=None)
default_hooks = dict(
    logger=dict(interval=4),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
log_processor = dict(window_size=4)
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# A toy schedule: no published reference, and no recipe batch to hold (any number of
# processes trains the same iterations, e.g. the 2-rank DDP tests).
protocol = dict(name='tiny-demo', total_batch=None)
