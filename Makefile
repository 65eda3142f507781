# The two commands (each sets up .venv/ on first use, reusing it afterwards):
#   make demo   end-to-end demo on the embedded tiny dataset
#   make test   the test suite
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test

setup:
	@bash tools/setup_env.sh

# Until the study pipeline lands: tiny data from a seed, then a tiny MixedAE pre-training
# run (300 iterations, ~20 s on 2 cores) whose log shows loss, loss_rec, loss_hc, homo_acc.
demo: setup
	@test -d data/tiny/imagenet || $(PY) tools/make_tiny_datasets.py --out data/tiny --seed 0
	$(PY) tools/train.py configs/demo/mixedae_vit-tiny-p8_1xb32-300i_tiny.py

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
