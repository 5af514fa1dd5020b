# Cycle: `make demo` and `make test` work on a fresh clone with nothing but Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

export CYCLE_HOME           ?= $(CURDIR)/data
export CYCLE_WAREHOUSE_PATH ?= $(CYCLE_HOME)/warehouse.duckdb
export DAGSTER_HOME         ?= $(CYCLE_HOME)/dagster_home
# two cores are shared by Dagster, dbt, DuckDB and torch: keep every process small
export CYCLE_DUCKDB_THREADS ?= 1
export CYCLE_TORCH_THREADS  ?= 1
export OMP_NUM_THREADS      ?= 1
export PYTHONUNBUFFERED     := 1
export PATH                 := $(CURDIR)/$(VENV)/bin:$(PATH)

DBT_SOURCES := $(shell find dbt/models dbt/macros dbt/seeds dbt/snapshots dbt/tests -type f 2>/dev/null) dbt/dbt_project.yml dbt/profiles.yml
MANIFEST    := dbt/target/manifest.json

.PHONY: install chromium redis-server demo test test-timings dev api summary benchmark benchmark-loop benchmark-ml benchmark-scale benchmark-raw-day benchmark-day-graph loop bench-api bench-dashboard chaos clean help docs-screenshots

help:
	@echo "make demo      install, then materialize the last 30 days of the simulator through the whole graph"
	@echo "make test      install, then run every test"
	@echo "make test-timings  every test, then each module's seconds into tests/module_seconds.json (the order of make test)"
	@echo "make dev       Dagster UI + daemon on workspace.yaml (http://127.0.0.1:3000)"
	@echo "make api       FastAPI service (http://127.0.0.1:8000/docs)"
	@echo "make benchmark speed figures as ratios against in-process baselines"
	@echo "make benchmark-loop  8 weeks of posting on the planted truth, peak hours moved at week 5: Cycle vs random, static heatmap, oracle (~1 min)"
	@echo "make benchmark-ml    the ML models against their baselines and goals on the simulator, a section per model (drift: 10 seeds, ~10 min on one core)"
	@echo "make benchmark-scale  50M snapshot rows through the dbt chain vs hand-written DuckDB, pandas, PostgreSQL; one new day at 30 and 365 days of history (SCALE_ARGS to size it)"
	@echo "make benchmark-raw-day  one raw day at 50,000 posts: seconds and peak memory of simulate, parse, validate, write, checks"
	@echo "make benchmark-day-graph  the whole graph for one day (daily_pipeline_job) at 50,000 posts: wall seconds, peak memory, each step's seconds (DAY_GRAPH_ARGS to size it)"
	@echo "make loop      the closed loop in the simulator through the real graph: 8 weeks, half the advice applied, peaks moved at week 5"
	@echo "make bench-api the API under Locust at 1,000 req/s, 30 days and 3 years of history, cache on and off (after make demo)"
	@echo "make bench-dashboard  each dashboard page's load and draw time in headless Chromium on the demo's data (after make demo)"
	@echo "make chaos     inject the known faults in sequence and print what each did to the data (goal: all 0)"
	@echo "make docs-screenshots  the README's picture of the asset graph (Dagster UI in headless Chromium, ~1 min)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned exactly: that spec takes the local CPU wheel (any other pulls CUDA packages)
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $@

# the dbt manifest is built here, never when Dagster imports the definitions
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	cd dbt && ../$(BIN)/dbt parse --profiles-dir . --quiet
	@touch $@

# Cycle's instance settings, with Dagster's storage on PostgreSQL when CYCLE_DAGSTER_PG_URL is set (SQLite files here
# otherwise); rewritten when analytics_assets/dagster.yaml changes
$(DAGSTER_HOME)/dagster.yaml: analytics_assets/dagster.yaml analytics_assets/cli/instance.py | $(STAMP)
	$(BIN)/python -m analytics_assets.cli.instance --refresh

install: $(STAMP) $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml

# one line per step; the event log and dbt's output go to the log file whose path it prints first
demo: install
	@$(BIN)/cycle demo --days 30

summary: install
	$(BIN)/cycle summary

# the browser tests (tests/browser) drive Debian's chromium through Playwright (whose own browser download needs the
# internet): installed here when missing, with sudo only when not root; without apt they skip, except under CI
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; \
	  else echo "chromium not found and no apt-get: the browser tests will skip (set CYCLE_CHROMIUM to a Chromium)"; fi; }

# the shared rate-limit tests (tests/api/test_api_rate_limit_shared.py) start Debian's redis-server on a free port of
# 127.0.0.1: installed here when missing, as chromium is; without apt they skip, except under CI
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -q && $$SUDO apt-get install -y -q redis-server; \
	  else echo "redis-server not found and no apt-get: the shared rate-limit tests will skip"; fi; }

# two workers (the CI machine has two cores); a module's tests stay on one worker, so its fixtures are built once;
# modules start longest first (tests/conftest.py, by tests/module_seconds.json), not in xdist's reordering
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: install chromium redis-server
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

# the whole suite, then each module's measured seconds into tests/module_seconds.json (the order `make test` uses)
test-timings: install chromium redis-server
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) --junitxml=$(CYCLE_HOME)/test-timings.xml
	$(BIN)/python tests/module_seconds.py $(CYCLE_HOME)/test-timings.xml

dev: install
	$(BIN)/dagster dev -w workspace.yaml

api: install
	$(BIN)/uvicorn api.main:app --host 127.0.0.1 --port 8000

benchmark: install
	$(BIN)/python -m benchmarks.run

# does the posting policy pay, and does it keep learning when the audience's hours move? every policy publishes
# the same simulated posts (common random numbers); figures beside their goals, PASS/MISS; ~1 min on one core
benchmark-loop: install
	$(BIN)/python -m benchmarks.loop

# each ML model against its baselines and goal on the simulator's planted truth, one section per model
# (benchmarks/ml.py: `python -m benchmarks.ml drift` runs one); exit 1 when a goal is missed
benchmark-ml: install
	$(BIN)/python -m benchmarks.ml

# the snapshot chain at scale: snapshots bulk-generated in DuckDB from the simulator's distributions, the dbt chain
# against the same logic hand-written in DuckDB, in pandas and on PostgreSQL 15, and one new day through the dbt project
# at 30 and 365 days of history, each figure beside its goal; exit 1 when a goal is missed (benchmarks/scale.py sets
# DuckDB's threads to the machine's cores). Sizes and sections are options:
#   make benchmark-scale SCALE_ARGS="--snapshot-rows 5000000 --sections generate,chain"
benchmark-scale: install
	$(BIN)/python -m benchmarks.scale $(SCALE_ARGS)

# one raw partition at 50,000 posts a day through raw_platform_data: seconds and peak RSS per step
benchmark-raw-day: install
	$(BIN)/python -m benchmarks.raw_day --posts-per-day 50000

# the whole graph for one day (daily_pipeline_job after a warm-up that trains the champion) at 50,000 posts a day
#   make benchmark-day-graph DAY_GRAPH_ARGS="--posts-per-day 10000 --history-days 7 --json /tmp/day_graph.json"
benchmark-day-graph: install
	$(BIN)/python -m benchmarks.day_graph $(DAY_GRAPH_ARGS)

# the same loop through the Dagster graph, the API's decisions and the simulator's closed-loop mode (cycle loop)
loop: install
	$(BIN)/cycle loop --weeks 8 --adoption 0.5 --shift-week 5 --shift-hours 4

# the real server (uvicorn, 1 worker as `make api`; the load generator takes the other core) under Locust at
# 1,000 req/s, 30 days and 3 years of history, response cache on and off; needs `make demo`'s snapshot; ~2.5 min
bench-api: install
	$(BIN)/python -m benchmarks.api_load

# every page of /dashboard in headless Chromium over the demo's snapshot: first load, warm median and worst; goal < 1 s
bench-dashboard: install chromium
	$(BIN)/python -m benchmarks.dashboard

chaos: install
	$(BIN)/python -m benchmarks.chaos

# docs/images/asset_graph.png: dagster-webserver on a free port of 127.0.0.1 with a throwaway home, the global
# lineage drawn by headless Chromium; fails when the graph does not render
docs-screenshots: install chromium
	$(BIN)/python docs/screenshot_asset_graph.py

clean:
	rm -rf $(CYCLE_HOME) dbt/target dbt/logs .pytest_cache
