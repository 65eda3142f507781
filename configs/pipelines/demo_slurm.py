# The embedded demo (demo.py) with every stage a SLURM job, e.g. on the one-node cluster of
# tools/slurm_local.sh (one CPU per job: two stages at a time on two cores):
#   tools/slurm_local.sh start && export SLURM_CONF=/var/tmp/mixedae-slurm/slurm.conf
#   python tools/run_pipeline.py configs/pipelines/demo_slurm.py --wait
_base_ = './demo.py'

work_root = 'work_dirs/demo_slurm'
# replaces the demo's executor (its local `workers`) as a whole
executor = dict(_delete_=True, type='slurm', cpus_per_task=1, timeout_min=60)
