# The embedded demo (`make demo`): MAE vs naive mixing vs MixedAE, each pre-trained on the
# tiny ImageNet and transferred to tiny ImageNet fine-tuning and linear probing, tiny COCO
# Mask R-CNN and tiny ADE20K UperNet; then the table and plots. Everything is generated
# from a seed (multi-object scenes for COCO/ADE20K) and runs on 2 CPU cores in minutes.
# A smoke test of the whole toolchain at toy scale: its numbers say nothing about the
# method. Run from the repository root:
#   python tools/run_pipeline.py configs/pipelines/demo.py
work_root = 'work_dirs/demo'
prepare = dict(tiny_datasets=dict(out='data/tiny', seed=0))   # made if absent

methods = dict(
    mae=dict(config='configs/demo/mae_vit-tiny-p8_1xb32-300i_tiny.py'),
    naive_mix=dict(config='configs/demo/naive-mix_vit-tiny-p8_1xb32-300i_tiny.py'),
    mixedae=dict(config='configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'),
)

# Every task loads the converted encoder through model.backbone.init_cfg.checkpoint.
tasks = dict(
    cls_finetune=dict(config='configs/demo/cls-finetune_vit-tiny-p8_tiny.py',
                      convert_to='mmpretrain'),
    cls_linear=dict(config='configs/demo/cls-linear_vit-tiny-p8_tiny.py',
                    convert_to='mmpretrain'),
    det_coco=dict(config='configs/demo/det-coco_vit-tiny-p8_tiny.py', convert_to='mmdet'),
    # our MixedAEViT as mmseg backbone: same `backbone.` keys as for mmpretrain
    seg_ade20k=dict(config='configs/demo/seg-ade20k_vit-tiny-p8_tiny.py',
                    convert_to='mmpretrain'),
)

# Per-stage overrides (`--cfg-options`), sized so that the demo takes about 4-5 min on 2
# cores (measured with another process busy on one of them: 5:34 with 500/80/80
# pre-training/det/seg iterations, 4:18 with 400/50/50; about 8 s of each of the 15
# training stages is starting the process), so well under 15 min on a busy machine.
# Iteration counts are multiples of the loggers' intervals (10, 4): the table's schedules
# come from the logged iterations. Transfer stages validate at their last iteration; those
# metrics are tabulated, and the pre-training cost from the logged step time.
_pretrain_iters = 400
_det_iters = 48
_seg_iters = 48
cfg_options = dict(
    pretrain={
        'train_cfg.max_iters': _pretrain_iters,
        'param_scheduler.1.end': _pretrain_iters,             # cosine to the last iteration
        'default_hooks.checkpoint.interval': _pretrain_iters,
        # 32-px images: loading in the main process beats starting workers
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
    },
    det_coco={
        'train_cfg.max_iters': _det_iters,
        'train_cfg.val_interval': _det_iters,
        'param_scheduler.1.end': _det_iters,
        'param_scheduler.1.milestones': [_det_iters * 3 // 4],   # lr / 10 at 3/4
        'default_hooks.checkpoint.interval': _det_iters,
    },
    seg_ade20k={
        'train_cfg.max_iters': _seg_iters,
        'train_cfg.val_interval': _seg_iters,
        'param_scheduler.1.end': _seg_iters,                  # poly decay to the last iteration
        'default_hooks.checkpoint.interval': _seg_iters,
    },
)

tabulate = dict(baseline='mae')

# The cost column: every method's training step timed side by side in one process
# (tools/measure_cost.py) at the pre-training shapes (batch 32, 32 px), here with one
# thread as the training stages. 30 interleaved rounds of 4 steps after 2 warm-up steps:
# about 20 s of CPU time; two runs, one beside a CPU hog, agree within 5 % per ratio
# (benchmarks/cost_stage_check.py).
cost = dict(repeats=30, steps=4, warmup=2)

# One thread per training process: the tiny models gain nothing from a second one, and on
# a busy 2-core machine two OpenMP threads per process slow a step down up to 50x.
env = dict(OMP_NUM_THREADS='1')
