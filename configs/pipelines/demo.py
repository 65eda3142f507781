# The embedded demo (`make demo`): MAE vs naive mixing vs MixedAE, each pre-trained on the
# tiny ImageNet and transferred to tiny ImageNet fine-tuning and linear probing, tiny COCO
# Mask R-CNN and tiny ADE20K UperNet; then the table and plots. Everything is generated
# from a seed (multi-object scenes for COCO/ADE20K) and runs on 2 CPU cores in minutes.
# A test of the whole toolchain at toy scale: its numbers say nothing about the method.
# What they can say, measured (3 transfer seeds; n = 512 classification and 256
# detection / segmentation validation images, tools/make_tiny_datasets.py's defaults):
# every task learns (no row at chance or at 100 %; segmentation predicts all four
# classes), and the linear probe and fine-tuning tell the pre-trained encoders from a
# random-initialised one (top-1 lin / ft, mean +- sd over seeds: scratch 59.8 +- 3.3 /
# 61.1 +- 4.1, MAE 73.5 +- 2.5 / 72.0 +- 3.5, naive mixing 67.3 +- 1.4 / 70.4 +- 1.4,
# MixedAE 65.2 +- 1.7 / 70.7 +- 2.1). Detection and segmentation do not: no pre-trained
# row beats scratch by more than the seed-to-seed spread (AP box sd 0.4-5.7, mIoU sd
# 3-7), nor with 3-4x longer transfer schedules (segmentation 1600 iterations: scratch
# 65.1 / 65.6 mIoU, MAE 66.9 / 68.0, 2 seeds; detection 600: scratch 58.8 / 53.3 AP box,
# MAE pre-trained 2000 iterations 49.6 / 48.1) or a frozen encoder (mIoU scratch 50.8 /
# 52.1 / 64.4, MAE 58.1 / 51.6 / 60.3) or fewer labels (detection on 16 training scenes,
# 800 iterations, seed 0: scratch 51.7 / 57.4 AP box / mask, MAE 47.0 / 55.2, MAE without
# layer decay 48.1 / 57.7), nor with random object hues (only the outline tells the
# class), a 10x lower segmentation lr, or a frozen encoder on random hues (mIoU 37-39 for
# both; README "A longer CPU study"): at this scale the dense heads get nothing from the
# pre-trained patch features that random ones lack.
# Run from the repository root:
#   python tools/run_pipeline.py configs/pipelines/demo.py
work_root = 'work_dirs/demo'
prepare = dict(tiny_datasets=dict(out='data/tiny', seed=0))   # made if absent

methods = dict(
    mae=dict(config='configs/demo/mae_vit-tiny-p8_1xb32-300i_tiny.py'),
    naive_mix=dict(config='configs/demo/naive-mix_vit-tiny-p8_1xb32-300i_tiny.py'),
    mixedae=dict(config='configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py'),
    # the positive control: the same transfer runs from a random-initialised encoder
    scratch=dict(checkpoint=None),
)

# Every task loads the converted encoder through model.backbone.init_cfg.checkpoint.
tasks = dict(
    cls_finetune=dict(config='configs/demo/cls-finetune_vit-tiny-p8_tiny.py',
                      convert_to='mmpretrain'),
    cls_linear=dict(config='configs/demo/cls-linear_vit-tiny-p8_tiny.py',
                    convert_to='mmpretrain'),
    # three runs each for the dense tasks: at this scale a run's detection AP and mIoU
    # move by points with its seed or the float kernels' rounding (mIoU by up to 10.6,
    # AP by up to 6.1 between kernel sets, README "Determinism"), far more than their
    # images' intervals; the table's intervals then cover the runs, then the images
    det_coco=dict(config='configs/demo/det-coco_vit-tiny-p8_tiny.py', convert_to='mmdet',
                  seeds=[0, 1, 2]),
    # our MixedAEViT as mmseg backbone: same `backbone.` keys as for mmpretrain
    seg_ade20k=dict(config='configs/demo/seg-ade20k_vit-tiny-p8_tiny.py',
                    convert_to='mmpretrain', seeds=[0, 1, 2]),
)

# Per-stage overrides (`--cfg-options`): the demo's pre-training, detection and
# segmentation schedules (those configs hold a 12-iteration one; classification's are in
# its configs). Measured on 2 cores, two stages at once with one thread each, machine
# otherwise idle, from no data and no work_dirs: the whole demo (42 stages) took 11:16
# wall, 1,253 s of CPU (user + sys); per stage (wall, of it ~8-10 s starting Python and
# importing torch + OpenMMLab): prepare 3 s, pre-training 25-29 s (400 iterations),
# fine-tuning 15-18, linear probe 11-14, detection 43-57 per seed (~11 s of it the
# validation on 256 scenes), segmentation 24-33 per seed, cost 20, tables 34 and report 36
# (the bootstrap: 1000 resamples of every cell and delta). Iteration counts are multiples
# of the loggers' intervals (10, 4): the table's schedules come from the logged
# iterations. Transfer stages validate at their last iteration; those metrics are
# tabulated, and the pre-training cost from the side-by-side cost stage.
_pretrain_iters = 400
_det_iters = 200
_seg_iters = 400
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

# The training processes' float kernels, pinned. One thread: the tiny models gain nothing
# from a second one, on a busy 2-core machine two OpenMP threads per process slow a step
# down up to 50x, and the thread count sets the order of float reductions. AVX2 kernels
# in torch (ATen), oneDNN and MKL (its conditional numerical reproducibility mode) on
# every x86-64 machine that has AVX2, whether or not it has AVX-512: at this scale the
# kernels' rounding moves detection and segmentation by points. Measured, the whole demo
# with this machine's AVX-512 kernels instead of these: classification 0 to 0.2 points,
# mIoU 0.6 to 3.0, AP 0 to 2.6 (three runs each; one cell of 20 outside its interval);
# with one run per dense cell, mIoU up to 10.6 and AP up to 6.1 (README, "Determinism").
env = dict(OMP_NUM_THREADS='1', ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2',
           MKL_CBWR='AVX2')

# Two stages at once, one per core (each as soon as the stages it needs have ended).
executor = dict(type='local', workers=2)
