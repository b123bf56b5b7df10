# Two entry points: `make demo` runs the whole loop on the embedded default, `make test` the suite.
# Both set up .venv from nothing on first use.
PYTHON ?= python3
RECIPE ?= recipes/demo.yaml
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test foundation lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first, so that nothing pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

# the test and lint tools, only where they are needed: the demo does without them
$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

# another recipe on the same corpora and foundation: make demo RECIPE=recipes/demo-quick.yaml
demo: $(STAMP)
	$(BIN)/omnisched demo --out runs --recipe $(RECIPE)

# the foundation from scratch (tens of minutes): runs/foundation, its card beside the shipped one
foundation: $(STAMP)
	$(BIN)/omnisched synth --out runs/pretrain-corpus --size 1600 --seed 1
	$(BIN)/omnisched pretrain --corpus runs/pretrain-corpus --out runs/foundation

test: $(DEV_STAMP)
	$(BIN)/python -m pytest tests -q

# style, then the import layers (pyproject's [tool.importlinter]: the core never imports the lab)
lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf runs .pytest_cache .ruff_cache .import_linter_cache
