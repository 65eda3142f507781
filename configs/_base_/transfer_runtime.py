# What the COCO detection and ADE20K segmentation configs add to the mmdet / mmseg recipes
# they inherit: the project's modules and its reliability hooks. Their pipelines load with
# CheckedLoadImageFromFile (and ADE20K's label maps / COCO's boxes and masks with mmseg's /
# mmdet's CheckedLoadAnnotations, which also check a label map's size, bit depth and
# values, and that an instance has a segmentation): an unreadable file stops the run with
# its name; pipeline.N.skip_bad=True skips bad training files with a counted warning.
_base_ = ['./vis_backends.py']   # local_and_tensorboard
custom_imports = dict(imports=['mixedae.modules'], allow_failed_imports=False)

custom_hooks = [
    dict(type='DatasetCheckHook'),       # files listed exist; COCO annotations are sound
    dict(type='PerIterationSeedHook'),   # exact resume: drop path, RoI sampling, dropout
    dict(type='NonFiniteLossHook', action='stop'),
    dict(type='RunInfoHook'),            # run_info.json: protocol, backbone, batch (tables)
    # the backbone checkpoint fills the encoder (else: the file, what it is, the missing
    # keys and the converter command) -- also for mmseg's MAE, which loads strict=False
    dict(type='PretrainedLoadCheckHook'),
    # per_sample/{val,test}.json + files: per-image results of each evaluation (the
    # evaluator must keep them: PerSampleCocoMetric / PerSampleIoUMetric), for bootstrap
    # intervals (mixedae.stats)
    dict(type='PerSampleHook'),
]

# mmseg's ADE20K loaders and their checked versions: the ADE20K configs map mmseg's
# inherited pipelines through this (same transforms, same order, same arguments).
# mmseg-only: 'LoadAnnotations' in an mmdet pipeline is mmdet's COCO loader.
checked_seg_loaders = dict(
    LoadImageFromFile='CheckedLoadImageFromFile',
    LoadAnnotations='CheckedLoadAnnotations',
)
