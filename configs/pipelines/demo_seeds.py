# The embedded demo (demo.py) with every transfer task run with seeds 0 and 1 (detection
# and segmentation keep the demo's own three, a task's `seeds` coming before the top-level
# list): one stage per seed (<method>/<task>/seed_<s>, in parallel under SLURM, each skipped
# or resumed on its own); the table shows the mean over the seeds, "x 2 seeds", and
# intervals from a bootstrap over the runs, then the images.
#   python tools/run_pipeline.py configs/pipelines/demo_seeds.py
_base_ = './demo.py'

work_root = 'work_dirs/demo_seeds'
seeds = [0, 1]
