# MAE's ADE20K protocol exactly as published by mmseg (its ``MAE`` backbone with layer
# scale and relative position bias learnt during fine-tuning, UperNet, 160k iterations,
# batch 16, layer decay 0.65 with mmseg's own constructor), fed by our pre-training
# checkpoints, MAE or MixedAE alike (both encoders are plain ViTs after pre-training), or
# the official MAE weights. Convert them first (mmseg's ``MAE`` ignores ``prefix`` and
# loads with strict=False: an unconverted file would load nothing, and
# PretrainedLoadCheckHook stops such a run naming the file):
#   python tools/convert_checkpoint.py mae.pth --to mmseg mae_mmseg.pth
#   tools/train.py THIS --cfg-options model.backbone.init_cfg.checkpoint=mae_mmseg.pth
# Differences from the inherited config: weights come through ``init_cfg`` (not
# ``model.pretrained``), and AMP is real (the base sets an unused ``fp16`` key and fp32
# ``OptimWrapper``).
_base_ = [
    'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py',
    '../../_base_/transfer_runtime.py',   # custom_imports, reliability hooks
]

model = dict(
    pretrained=None,
    backbone=dict(init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/mae_vit-base-p16_mmseg.pth')))

fp16 = None
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')

# mmseg's ADE20K pipelines, inherited, with the checked loaders in place of its
# LoadImageFromFile / LoadAnnotations (configs/_base_/transfer_runtime.py): a bad image,
# an unreadable label map or one of another size than its image stops the run with the
# file's name. Same transforms, same order, same arguments. (mmseg's tta_pipeline is
# left as it is: tools/test.py has no --tta.)
train_pipeline = [dict(step, type=_base_.checked_seg_loaders.get(step.type, step.type))
                  for step in _base_.train_pipeline]
test_pipeline = [dict(step, type=_base_.checked_seg_loaders.get(step.type, step.type))
                 for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# mmseg's IoUMetric (arguments inherited) that also keeps per-image class areas, which
# PerSampleHook writes to per_sample/ (configs/_base_/transfer_runtime.py)
val_evaluator = dict(type='mmseg.PerSampleIoUMetric')
test_evaluator = val_evaluator

# The protocol this config implements (benchmarks/published_results.json)
# and the recipe's images per optimizer step: 16 (8 GPUs x 2). Another GPU count stops with
# an error naming both numbers unless --cfg-options protocol.batch_mismatch=scale (lr and
# iterations scaled, mixedae/engine/recipe_batch.py) or =accumulate.
protocol = dict(name='mmseg-mae-upernet', total_batch=16, batch_mismatch='error')
auto_scale_lr = dict(base_batch_size=16)
# Each rank draws its own drop-path masks and augmentations (detectron2 seeds seed + rank);
# PerIterationSeedHook replays them exactly on resume.
randomness = dict(seed=0, diff_rank_seed=True)

# log to vis_data/scalars.json (the tables read it) and to TensorBoard
visualizer = dict(vis_backends={{_base_.local_and_tensorboard}})
