# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench soak install lint typecheck screenshots record-histories replay-check dashboards clean

run: $(STAMP)  ## Start Temporal (unless TEMPORAL_ADDRESS is set), the worker and the API
	$(BIN)/python -m scripts.dev

test: $(STAMP) lint typecheck  ## Lint, type-check and run every test
	$(BIN)/python -m pytest

bench: $(STAMP)  ## Measure the service against raw Temporal here (docs/benchmarks.md); e.g. BENCH_ARGS=--skip-10k
	$(BIN)/python -m bench $(BENCH_ARGS)

# The crash and restart tests of `make test` with bigger numbers; each test's figures (kills,
# restarts, cases, effects, duplicates, lost) go to $(SOAK_FIGURES), one JSON line per test.
SOAK_FIGURES ?= tests/artifacts/soak-figures.jsonl
SOAK_SIZES ?= CRASH_KILLS=100 CRASH_DISPUTES=60 CRASH_STOP_DISPUTES=40 CRASH_API_KILLS=10 \
	CRASH_API_REQUESTS=10 CRASH_SERVER_DISPUTES=30 CRASH_SERVER_REPORTS=20 CRASH_OUTAGE_DISPUTES=60

soak: $(STAMP)  ## Crash and restart tests with more kills and cases (~10 minutes); figures in $(SOAK_FIGURES)
	mkdir -p $(dir $(SOAK_FIGURES)) && rm -f $(SOAK_FIGURES)
	$(SOAK_SIZES) CRASH_FIGURES=$(SOAK_FIGURES) $(BIN)/python -m pytest tests/test_crash_*.py
	cat $(SOAK_FIGURES)

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

screenshots: $(STAMP)  ## Refresh the README's Temporal UI screenshot (needs Debian's chromium)
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_web_ui.py

record-histories: $(STAMP)  ## Record workflow histories of this code as tests/histories/$(VERSION) (make test replays them)
	@test -n "$(VERSION)" || (echo "usage: make record-histories VERSION=v3" && exit 2)
	$(BIN)/python -m scripts.record_histories $(VERSION)

replay-check: $(STAMP)  ## Before a deploy: replay the namespace's open cases against this code
	$(BIN)/python -m scripts.replay_check

dashboards: $(STAMP)  ## Regenerate the Grafana dashboards' JSON (deploy/grafana/dashboards) from scripts/dashboards.py
	$(BIN)/python -m scripts.dashboards

clean:  ## Remove the virtualenv and caches (keeps data/)
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info
