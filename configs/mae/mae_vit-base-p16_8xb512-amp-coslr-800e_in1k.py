# MAE baseline: mmpretrain's own MAE config, unchanged, plus mixedae's registrations
# (safe checkpoint loading under torch >= 2.6 for resume/load_from).
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

custom_imports = dict(imports=['mixedae'], allow_failed_imports=False)

# mmengine tags dicts inherited across packages with `_scope_`, which the Runner then
# passes to the collate function as a keyword: restate it without the tag.
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
