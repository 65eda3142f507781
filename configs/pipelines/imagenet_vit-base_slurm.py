# The full study of imagenet_vit-base.py on a SLURM cluster: every stage one job (submitit),
# queued at once with its dependencies; the three pre-trainings run side by side, then
# each method's conversion and its four transfer runs side by side, then the tables.
#   python tools/run_pipeline.py configs/pipelines/imagenet_vit-base_slurm.py --dry-run
#   python tools/run_pipeline.py configs/pipelines/imagenet_vit-base_slurm.py   # queue, return
#   python tools/run_pipeline.py configs/pipelines/imagenet_vit-base_slurm.py --status
# Set the partition (and account / qos) of your cluster.
_base_ = './imagenet_vit-base.py'

launcher = None   # torchrun on the local node: replaced by one srun task per GPU
executor = dict(
    type='slurm',
    partition='gpu',
    nodes=1,
    gpus_per_node=8,          # one task per GPU, --launcher slurm
    cpus_per_task=10,         # 8 dataloader workers + 2
    mem_gb=480,
    timeout_min=72 * 60,      # near the limit the job is requeued and resumes
    max_requeues=30,
    # 4 nodes x 8 GPUs per pre-training: 128 images per GPU keep the recipe's 8 x 512
    # the cost stage times the three methods' steps in one process: one GPU
    stages={'*/pretrain': dict(nodes=4), 'cost': dict(gpus_per_node=1)},
)
