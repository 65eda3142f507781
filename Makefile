# The two commands (each sets up .venv/ on first use, reusing it afterwards):
#   make demo   end-to-end demo on the embedded tiny dataset
#   make test   the test suite
PY := .venv/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) tools/run_pipeline.py configs/pipelines/demo.py

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
