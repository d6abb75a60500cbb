SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: venv test demo bench clean

venv: $(STAMP)

# Reinstalls only when pyproject.toml changes; torch==2.13.0 is the CPU wheel pinned there.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

test: venv
	PREFECT_RESULTS_LOCAL_STORAGE_PATH=$$(mktemp -d) $(PY) -m pytest -q

demo: venv
	$(PY) -m refsr.demo

clean:
	rm -rf $(VENV) .pytest_cache data/*.zarr
