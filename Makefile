SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
# Messages of refsr's own loggers (a claim waited for, views missing from a source) reach the flow run logs.
export PREFECT_LOGGING_EXTRA_LOGGERS := refsr

# Local Prefect: server on 127.0.0.1:$(PREFECT_PORT) (SQLite under $(PREFECT_HOME)), a process worker
# on the pool refsr-local, pids and logs in $(RUN). All overridable: make serve PREFECT_PORT=4300
PREFECT_PORT ?= 4200
RUN ?= $(CURDIR)/.run
DEMO_STORE ?= data/demo.zarr
# Only the Prefect targets talk to that server (`make test` keeps its own, via the test harness).
PREFECT_TARGETS := demo serve up server worker deploy stop
$(PREFECT_TARGETS): export PREFECT_API_URL := http://127.0.0.1:$(PREFECT_PORT)/api
$(PREFECT_TARGETS): export PREFECT_WORKER_QUERY_SECONDS := 2
$(PREFECT_TARGETS): export REFSR_ROOT := $(CURDIR)
STOP := $(CURDIR)/scripts/stop_pg.sh
PING = $(PY) -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' 2>/dev/null

.PHONY: venv test demo train bench clean serve up server worker deploy stop

venv: $(STAMP)

# Reinstalls only when pyproject.toml changes; torch==2.13.0 is the CPU wheel pinned there.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	@touch $(STAMP)

test: venv
	PREFECT_RESULTS_LOCAL_STORAGE_PATH=$$(mktemp -d) $(PY) -m pytest -q

# make demo: start server + worker (unless one already answers on PREFECT_PORT), deploy, run
# refsr/lf-reconstruct on the embedded sample, print the table and pictures, stop what it started.
demo: venv
	@set -eo pipefail; mkdir -p $(RUN); \
	if $(PING) "$(PREFECT_API_URL)"; then echo "using the Prefect server already on $(PREFECT_API_URL)"; \
	  $(MAKE) --no-print-directory deploy; \
	else trap '$(MAKE) --no-print-directory stop' EXIT; $(MAKE) --no-print-directory up; fi; \
	echo "prefect deployment run refsr/lf-reconstruct --watch -p store=$(DEMO_STORE)"; \
	prefect deployment run refsr/lf-reconstruct --watch --watch-interval 1 -p store='"$(DEMO_STORE)"' \
	  > $(RUN)/demo-run.log 2>&1 || { tail -n 40 $(RUN)/demo-run.log; exit 1; }; \
	grep -E "^Created flow run|URL:|^Flow run finished" $(RUN)/demo-run.log || true; \
	$(PY) -m refsr.demo --store $(DEMO_STORE) --scene motorcycle

# make train: every network from scratch, on this machine's CPU (or its GPU), with `refsr train chain`
# (README "Training"), to the end; stop it any time and run it again to continue. TRAIN_OUT=DIR trains elsewhere.
TRAIN_OUT ?= out/train
train: venv
	refsr train chain --config cpu --out $(TRAIN_OUT)

# make serve: server + worker + deployments, left running for the UI (http://127.0.0.1:4200) and schedules.
serve: venv
	@$(MAKE) --no-print-directory up
	@echo "Prefect UI: http://127.0.0.1:$(PREFECT_PORT)  (export PREFECT_API_URL=$(PREFECT_API_URL)); make stop stops it"

up: server worker deploy

server:
	@mkdir -p $(RUN) $(PREFECT_HOME)
	@if [ -f $(RUN)/server.pid ] && kill -0 -- -$$(cat $(RUN)/server.pid) 2>/dev/null; then echo "server already running"; \
	else setsid prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) > $(RUN)/server.log 2>&1 < /dev/null & echo $$! > $(RUN)/server.pid; fi
	@for i in $$(seq 600); do $(PING) "$(PREFECT_API_URL)" && exit 0; \
	  kill -0 $$(cat $(RUN)/server.pid) 2>/dev/null || { tail -n 20 $(RUN)/server.log; exit 1; }; sleep 0.2; done; \
	  echo "server did not answer on $(PREFECT_API_URL)"; tail -n 20 $(RUN)/server.log; exit 1
	@echo "server: $(PREFECT_API_URL) (pid $$(cat $(RUN)/server.pid), log $(RUN)/server.log)"

worker:
	@prefect work-pool create refsr-local --type process --overwrite > $(RUN)/pool.log 2>&1 || { cat $(RUN)/pool.log; exit 1; }
	@if [ -f $(RUN)/worker.pid ] && kill -0 -- -$$(cat $(RUN)/worker.pid) 2>/dev/null; then echo "worker already running"; \
	else setsid prefect worker start --pool refsr-local > $(RUN)/worker.log 2>&1 < /dev/null & echo $$! > $(RUN)/worker.pid; \
	  echo "worker: pool refsr-local (pid $$(cat $(RUN)/worker.pid), log $(RUN)/worker.log)"; fi

deploy:
	@cd $(CURDIR) && prefect --no-prompt deploy --all < /dev/null > $(RUN)/deploy.log 2>&1 || { cat $(RUN)/deploy.log; exit 1; }
	@echo "deployed: $$(grep -o "'refsr/[a-z-]*'" $(RUN)/deploy.log | sort -u | tr -d "'" | tr '\n' ' ')"

# make stop: worker first (it needs a second signal), then the server; see scripts/stop_pg.sh.
stop:
	@$(STOP) $(RUN)/worker.pid $(RUN)/server.pid && echo "stopped server and worker ($(RUN))"

clean:
	rm -rf $(VENV) .pytest_cache data/*.zarr
