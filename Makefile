# rlpjepa: the two commands a reader needs are `make repro` and `make test`; both set up .venv first.
#   make setup        create .venv and `pip install -e ".[dev]"` (re-runs only when setup.py/settings.ini change)
#   make data         fetch the embedded default dataset (Fashion-MNIST) into data/
#   make test         run every library notebook as a pytest test (flags: RLPJEPA_TEST_FLAGS="slow gpu")
#   make repro        `dvc repro`: rebuild results/ from params.yaml (CPU, offline, default profile; ~85 min on 2 cores)
#   make repro PROFILE=paper   first merge params/paper.yaml into params.yaml (`rlpjepa-profile paper`), then dvc repro
#   make repro JOBS=N  train the stale pretraining stages N at a time (DVC's experiment queue, one device each:
#                      `rlpjepa-queue -j N`), then dvc repro (which takes them from DVC's run cache) for the rest
#   make smoke        the whole DAG on tiny data in a temporary copy, plus Ctrl-C/SIGKILL recovery (.ci/smoke, ~8 min)
#   make lab          JupyterLab on the tour (nbs/index.ipynb); saving cleans notebooks (nbdev's pre-save hook)
#   make bench        run benchmarks/*.py (files starting with `_` are helpers, not run; BENCH_ARGS=...)
#   make gpu-wheels   download into .gpu-wheels/ the test tools a GPU machine lacks (for benchmarks/gpu_check.sh)
#   make clean-check  nbdev_clean + nbdev_export must leave tracked files unchanged (what .ci/run checks)
# Extra pytest arguments: make test PYTEST_ARGS="-k 01_distributions -x"

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
# Run tools from the venv with its bin/ first on PATH, so that `python`, `papermill` and the `python3`
# kernel that dvc stages call resolve to this venv, not to the system.
RUN    := PATH="$(BIN):$$PATH" VIRTUAL_ENV="$(CURDIR)/$(VENV)"
PYTEST_ARGS ?=
BENCH  ?= $(sort $(wildcard benchmarks/[!_]*.py))
BENCH_ARGS ?=

.PHONY: setup data test repro smoke bench clean-check lab gpu-wheels
.DEFAULT_GOAL := test

setup: $(STAMP)

$(STAMP): setup.py settings.ini
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -e ".[dev]"
	touch $@

# The embedded default dataset: Fashion-MNIST from Debian's dataset-fashion-mnist (30 MB; apt-get as root or via
# sudo), copied and md5-checked into data/ by `rlpjepa-fetch` (which falls back to torchvision's downloader).
FMNIST_DEB := /usr/share/datasets/fashion-mnist
data: setup
	@if [ ! -d data/fashion_mnist ] && [ ! -d $(FMNIST_DEB) ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  $$([ "$$(id -u)" -eq 0 ] || echo sudo) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist' >/dev/null; fi
	$(RUN) rlpjepa-fetch fashion_mnist --root data

# Tests that need the real data skip themselves without it, so a failed `data` step does not stop the tests.
test: setup
	-@$(MAKE) --no-print-directory data
	$(RUN) python -m pytest tests -q --durations=0 --durations-min=1 $(PYTEST_ARGS)

PROFILE ?=
JOBS ?= 1
repro: setup data
	$(if $(PROFILE),$(RUN) rlpjepa-profile $(PROFILE) &&) $(RUN) $(if $(filter-out 1,$(JOBS)),rlpjepa-queue -j $(JOBS),dvc repro)

# JupyterLab on the tour. Notebooks saved from it go through nbdev's pre-save hook (settings.ini `jupyter_hooks`),
# so they stay as clean as `nbdev_clean` leaves them (as root, as in containers, with --allow-root). LAB_ARGS: extra
# options (e.g. --no-browser --port 8890).
LAB_ARGS ?=
lab: setup
	$(RUN) jupyter lab nbs/index.ipynb --ContentsManager.pre_save_hook=nbdev.clean.clean_jupyter $$([ "$$(id -u)" -eq 0 ] && echo --allow-root) $(LAB_ARGS)

smoke: setup data
	bash .ci/smoke

bench: setup
	@test -n "$(BENCH)" || { echo "no benchmarks/*.py to run"; exit 0; }
	@set -e; for f in $(BENCH); do echo "== $$f"; $(RUN) python $$f $(BENCH_ARGS); done

# Python 3.12 wheels (binary only) of nbdev + pytest for the lent GPU machine (~11 MB; carry .gpu-wheels). dvclive,
# which 09_train's tests use, needs dvc, which pip cannot resolve to binary wheels for 3.12 from here (2026-12-02).
gpu-wheels: setup
	$(BIN)/pip download -q -d .gpu-wheels --python-version 3.12 --only-binary=:all: nbdev==2.4.14 'fastcore<2' 'execnb<0.2' 'ghapi<2' pytest tqdm ruamel.yaml

clean-check: setup
	bash .ci/run hygiene
