# The embedded demo (demo.py) with every transfer run made twice, with seeds 0 and 1: one
# stage per seed (<method>/<task>/seed_<s>, in parallel under SLURM, each skipped or resumed
# on its own); the table shows the mean over the seeds, "x 2 seeds", and intervals from a
# bootstrap over the runs, then the images. About twice the demo's transfer time.
#   python tools/run_pipeline.py configs/pipelines/demo_seeds.py
_base_ = './demo.py'

work_root = 'work_dirs/demo_seeds'
seeds = [0, 1]
