# vramscope — `make run` starts the main job, `make test` runs the whole suite.
# Both create .venv and install what they need. torch is pinned to the CPU build that lies on this
# machine's disk (2.13.0) and installed first, so nothing pulls a CUDA build.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
TORCH  ?= torch==2.13.0
TRANSFORMERS ?= transformers==5.23.0 peft==0.21.2 accelerate==1.15.0

.PHONY: run test test-fast lint bench clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" || echo "warning: $(TORCH) not installed; torch cross-checks will be skipped"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q $(TRANSFORMERS) "$(TORCH)" || echo "warning: $(TRANSFORMERS) not installed; transformers cross-checks will be skipped"
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(VENV)/bin/vramscope web

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest
	$(VENV)/bin/ruff check src tests benchmarks

test-fast: $(STAMP)  # the inner loop: everything but the tests marked slow
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow"
	$(VENV)/bin/ruff check src tests benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/import_time.py

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
