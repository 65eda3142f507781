# The two commands (each sets up .venv/ on first use, reusing it afterwards):
#   make demo   end-to-end demo on the embedded tiny dataset
#   make test   the test suite
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test

setup:
	@bash tools/setup_env.sh

# The embedded study (configs/pipelines/demo.py): tiny data from a seed, then MAE, naive
# mixing and MixedAE pre-trained, converted and transferred to tiny ImageNet fine-tuning /
# linear probing, COCO and ADE20K; prints the table and the paths of the plots
# (work_dirs/demo/tables/). Re-running skips the finished stages.
demo: setup
	$(PY) tools/run_pipeline.py configs/pipelines/demo.py

# Two pytest-xdist workers, a test file to one worker (SLURM starts once, module fixtures
# are made once; TEST_WORKERS=0: one process); PYTEST_ARGS is passed on.
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
