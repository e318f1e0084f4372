# benefits-mesh: every step from a fresh clone with only Python 3.11 lives here.
# Configuration: config.yaml, driven by BENEFITS_* environment variables (README). Recipes run in
# this folder, where config.yaml's relative paths belong, so `make -C <project>` works from anywhere.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
UI_STAMP := $(VENV)/.installed-ui
SQLMESH := $(BIN)/sqlmesh -p $(CURDIR)

.PHONY: setup run review test unit pytest lint fmt ui bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project (idempotent)

SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(SPARK_STAMP)

# BENEFITS_ENGINE=spark: pyspark too (the project's `spark` dependency group; Java 17 needed)
ENGINE_SETUP := $(if $(filter spark,$(shell echo '$(BENEFITS_ENGINE)' | tr A-Z a-z | xargs)),$(SPARK_STAMP))

run: setup $(ENGINE_SETUP)  ## plan + apply prod, run (loads every file landed since), then print a summary
	$(SQLMESH) plan --auto-apply --no-prompts --skip-tests
	$(BIN)/benefits-mesh run
	$(BIN)/benefits-mesh summary

REVIEW_ENV ?= dev
review: setup  ## plan the branch into $(REVIEW_ENV) (unit tests run), then a Markdown summary vs prod
	$(SQLMESH) plan $(REVIEW_ENV) --auto-apply --no-prompts
	$(BIN)/benefits-mesh plan-summary --env $(REVIEW_ENV) --markdown --out .cache/plan-summary-$(REVIEW_ENV).md

unit: setup  ## SQLMesh YAML unit tests
	$(SQLMESH) test

# $(UI_STAMP): tests/test_ui.py drives `make ui`, which installs the `ui` extra when it is missing
# or older than the project; installed during the run, pip rewrites .venv/bin/* while the other
# worker starts them ("faketime: Running specified command failed: Permission denied")
pytest: $(UI_STAMP)  ## pytest: package, generator and integration tests, and the YAML unit tests
	$(BIN)/pytest -q -n 2

# the YAML unit tests (`make unit`) run inside pytest (tests/test_sqlmesh_yaml_units.py), on one
# xdist worker beside the others instead of before them: once, and a minute sooner
test: pytest  ## everything CI runs

lint: setup  ## ruff (lint + format check), sqlmesh lint, sqlmesh format --check (models, audits)
	$(BIN)/ruff check benefits_mesh macros signals linter materializations tests
	$(BIN)/ruff format --check benefits_mesh macros signals linter materializations tests
	$(SQLMESH) lint
	$(SQLMESH) format --check

fmt: setup  ## format the Python (ruff format) and the SQL models and audits (sqlmesh format)
	$(BIN)/ruff format benefits_mesh macros signals linter materializations tests
	$(SQLMESH) format

$(UI_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	touch $(UI_STAMP)

UI_PORT ?= 8000
ui: $(UI_STAMP)  ## SQLMesh's UI on http://127.0.0.1:$(UI_PORT); runs and `make run` can go on beside it
	$(BIN)/benefits-mesh ui --host 127.0.0.1 --port $(UI_PORT)

bench: setup  ## SQLMesh vs hand-written SQL at feed scale (BENCHMARKS.md); BENCH_ARGS=...
	$(BIN)/benefits-mesh bench $(BENCH_ARGS)

clean:  ## remove the default warehouse, caches and logs (keeps .venv)
	rm -rf .warehouse .cache logs .pytest_cache
