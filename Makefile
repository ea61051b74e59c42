# rlpjepa: the two commands a reader needs are `make repro` and `make test`; both set up .venv first.
#   make setup        create .venv and `pip install -e ".[dev]"` (re-runs only when setup.py/settings.ini change);
#                     link jupyter_server_config.py into .venv/etc/jupyter (any `jupyter lab` from .venv keeps nbs/ clean)
#   make data         fetch the embedded default dataset (Fashion-MNIST) into data/
#   make test         run every library notebook as a pytest test (flags: RLPJEPA_TEST_FLAGS="slow gpu")
#   make repro        `rlpjepa-dag` (dvc.yaml from dag.yaml), then `rlpjepa-queue --local -j auto`: every stale stage as
#                     concurrent `dvc repro --single-item` (one per pretrain.threads cores, or per GPU), each once what it
#                     reads is done: rebuild results/ from params.yaml (CPU, offline, default profile; README gives the measured time)
#   make repro JOBS=1  plain `dvc repro`, one stage at a time (the same results: the thread counts are in params.yaml)
#   make repro PROFILE=paper   first merge params/paper.yaml into params.yaml (`rlpjepa-profile paper`), then dvc repro
#   make repro JOBS=N  train the stale pretraining stages N at a time (DVC's experiment queue, one device each:
#                      `rlpjepa-queue -j N`), then dvc repro (which takes them from DVC's run cache) for the rest
#   make smoke        the whole DAG on tiny data in a temporary copy, plus Ctrl-C/SIGKILL recovery (.ci/smoke, ~8 min)
#   make lab          JupyterLab on the tour: plain `jupyter lab nbs/index.ipynb` from .venv; opening, autosaving
#                     or saving a notebook under nbs/ leaves its file as committed (jupyter_server_config.py's hook)
#   make exp          `dvc exp show` of the params that define a run and the headline metrics (~65 columns: the
#                     dependency hashes and `runtime` dropped; plain `dvc exp show` has 147)
#   make bench        run benchmarks/*.py (files starting with `_` are helpers, not run; BENCH_ARGS=...)
#   make gpu-wheels   download into .gpu-wheels/ what a GPU machine lacks for benchmarks/gpu_check.sh (nbdev, pytest, dvclive)
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

.PHONY: setup data chromium test repro smoke exp bench clean-check lab gpu-wheels
.DEFAULT_GOAL := test

JUPYTER_CFG := $(VENV)/etc/jupyter/jupyter_server_config.py
setup: $(STAMP) $(JUPYTER_CFG)

$(STAMP): setup.py settings.ini
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --disable-pip-version-check -q -e ".[dev]"
	touch $@

# .venv's Jupyter reads its etc/jupyter ahead of ~/.jupyter, with no flags and from any directory: a relative link, so
# edits to jupyter_server_config.py apply at the next `jupyter lab`.
$(JUPYTER_CFG): | $(STAMP)
	mkdir -p $(@D) && ln -sfn ../../../jupyter_server_config.py $@

# The embedded default dataset: Fashion-MNIST from Debian's dataset-fashion-mnist (30 MB; apt-get as root or via
# sudo), copied and md5-checked into data/ by `rlpjepa-fetch` (which falls back to torchvision's downloader).
FMNIST_DEB := /usr/share/datasets/fashion-mnist
data: setup
	@if [ ! -d data/fashion_mnist ] && [ ! -d $(FMNIST_DEB) ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  $$([ "$$(id -u)" -eq 0 ] || echo sudo) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist' >/dev/null; fi
	$(RUN) rlpjepa-fetch fashion_mnist --root data

# Debian's Chromium for tests/test_explorer_page.py (Playwright drives it; never `playwright install`): best effort, as
# `data` (apt-get as root or via sudo -n; ~50 s, ~360 MB), and only when /usr/bin/chromium is missing.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium (for the explorer page's browser test)"; \
	  $$([ "$$(id -u)" -eq 0 ] || echo sudo -n) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium' >/dev/null; fi

# Tests that need the real data or Chromium skip themselves without them, so a failed `data` or `chromium` step does
# not stop the tests.
test: setup
	-@$(MAKE) --no-print-directory data
	-@$(MAKE) --no-print-directory chromium
	$(RUN) python -m pytest tests -q --durations=0 --durations-min=1 $(PYTEST_ARGS)

PROFILE ?=
JOBS ?= auto
REPRO_CMD = $(if $(filter auto,$(JOBS)),rlpjepa-queue --local -j auto,$(if $(filter-out 1,$(JOBS)),rlpjepa-queue -j $(JOBS),dvc repro))
repro: setup data
	$(if $(PROFILE),$(RUN) rlpjepa-profile $(PROFILE) &&) $(RUN) rlpjepa-dag && $(RUN) $(REPRO_CMD)

# JupyterLab on the tour, the same as a plain `jupyter lab nbs/index.ipynb` from .venv: notebooks under nbs/ saved
# from it go through the pre-save hook of jupyter_server_config.py (`nbdev_clean` with settings.ini's keys, outputs
# removed; `jupyter_hooks` switches it), so their files stay byte for byte as committed (as root, as in containers,
# with --allow-root). LAB_ARGS: extra options (e.g. --no-browser --port 8890).
LAB_ARGS ?=
lab: setup
	$(RUN) jupyter lab nbs/index.ipynb $$([ "$$(id -u)" -eq 0 ] && echo --allow-root) $(LAB_ARGS)

smoke: setup data
	bash .ci/smoke

EXP_DROP ?= ^(rlpjepa|nbs|results|data|params)/.*|^runtime\..*
exp: setup
	$(RUN) dvc exp show --drop '$(EXP_DROP)' $(EXP_ARGS)

bench: setup
	@test -n "$(BENCH)" || { echo "no benchmarks/*.py to run"; exit 0; }
	@set -e; for f in $(BENCH); do echo "== $$f"; $(RUN) python $$f $(BENCH_ARGS); done

# Python 3.12 wheels of what the lent GPU machine lacks (nbdev + pytest for the `#| gpu` test cells, dvclive + dvc which
# 13_train's cells use; ~36 MB; carry .gpu-wheels). hydra-core (a dvc need) pins antlr4-python3-runtime 4.9.3, which PyPI
# has only as source: it is built into a wheel here first (pure Python), then found beside the binary downloads.
GPU_PLATFORMS = $(foreach t,manylinux_2_34 manylinux_2_28 manylinux_2_26 manylinux_2_17 manylinux2014 manylinux_2_12 manylinux_2_5 manylinux1,--platform $(t)_x86_64)
gpu-wheels: setup
	$(BIN)/pip wheel -q --no-deps -w .gpu-wheels 'antlr4-python3-runtime==4.9.3'
	$(BIN)/pip download -q -d .gpu-wheels --find-links .gpu-wheels --python-version 3.12 --implementation cp $(GPU_PLATFORMS) \
	  --only-binary=:all: nbdev==2.4.14 'fastcore<2' 'execnb<0.2' 'ghapi<2' pytest tqdm ruamel.yaml dvclive

clean-check: setup
	bash .ci/run hygiene
