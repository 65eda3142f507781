# MAE baseline: mmpretrain's own MAE config, unchanged, plus mixedae's runtime additions
# (safe checkpoint loading, exact resume, NaN guard, a loader that names bad files).
_base_ = [
    'mmpretrain::mae/mae_vit-large-p16_8xb512-amp-coslr-1600e_in1k.py',
    '../_base_/pretrain_runtime.py',
]

# mmengine tags dicts inherited across packages with `_scope_`, which the Runner then
# passes to the collate function as a keyword: restate it without the tag.
# Workers restart every epoch so that a resumed run sees the same augmentation.
train_dataloader = dict(
    persistent_workers=False,
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(pipeline={{_base_.checked_pretrain_pipeline}}))

# log to vis_data/scalars.json (the tables read it) and to TensorBoard
visualizer = dict(vis_backends={{_base_.local_and_tensorboard}})
