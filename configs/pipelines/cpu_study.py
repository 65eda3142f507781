# A CPU study that asks more of the positive control than the demo can in 15 minutes: the
# demo's data, models and pre-training (configs/pipelines/demo.py, its pinned float
# kernels too), MAE and MixedAE against random initialisation (`scratch`), every transfer
# run with three seeds, and the dense tasks trained 3-4x longer (segmentation 1,600
# iterations, detection 600), where seed-to-seed spread was smaller in earlier runs. The
# table's intervals come from a bootstrap over the seeds, then the images.
# On 2 idle CPU cores, two stages at once with one thread each: 14 minutes (33 one after
# another, the same metrics).
#   python tools/run_pipeline.py configs/pipelines/cpu_study.py
# What it measured is in the README ("A longer CPU study").
_base_ = './demo.py'

work_root = 'work_dirs/cpu_study'
methods = dict(
    _delete_=True,
    mae=dict(config='configs/demo/mae_vit-tiny-p8_1xb32-300i_tiny.py'),
    mixedae=dict(config='configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'),
    scratch=dict(checkpoint=None),
)
seeds = [0, 1, 2]   # every transfer task (the demo's detection and segmentation have these)

_det_iters = 600
_seg_iters = 1600
cfg_options = dict(
    det_coco={
        'train_cfg.max_iters': _det_iters,
        'train_cfg.val_interval': _det_iters,
        'param_scheduler.1.end': _det_iters,
        'param_scheduler.1.milestones': [_det_iters * 3 // 4],
        'default_hooks.checkpoint.interval': _det_iters,
    },
    seg_ade20k={
        'train_cfg.max_iters': _seg_iters,
        'train_cfg.val_interval': _seg_iters,
        'param_scheduler.1.end': _seg_iters,
        'default_hooks.checkpoint.interval': _seg_iters,
    },
)
