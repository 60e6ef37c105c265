# dlbook — thin wrapper: creates .venv on first use, then calls the `dlbook` CLI.
#   make book    execute every lesson (cached) and build the HTML book into _build/html
#   make test    the whole test suite (what .ci/run calls)
#   make bench   cold/warm build times and per-lesson time and memory
# Pass options to the CLI with ARGS, e.g.  make book ARGS="-j 2 --device cuda"

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dlbook-installed
LOCK   := requirements/lock.txt
PYTEST_ARGS ?=

.PHONY: book test bench setup browser lock check golden clean help cuda-wheels

help:
	@echo "make book | make test | make bench | make check | make golden | make lock | make clean"

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/dlbook kernels install
	@touch $@

setup: $(STAMP)

browser:
	@$(PYTHON) tests/install_browser.py

book: $(STAMP)
	$(BIN)/dlbook build $(ARGS)

test: $(STAMP) browser
	# one torch thread per test worker (two workers on two cores must not oversubscribe them);
	# no progress bars in the kernels nbval starts
	DLBOOK_PROGRESS=0 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/dlbook bench $(ARGS)

check: $(STAMP)
	$(BIN)/dlbook check

golden: $(STAMP)
	$(BIN)/dlbook golden $(ARGS)

# Online, deliberate: the wheels tests/cuda_check.sh installs on a GPU machine without a network.
cuda-wheels: $(STAMP)
	$(BIN)/python tests/cuda_wheels.py _build/cuda_wheels

# Deliberate: re-resolve the dependency ranges of pyproject.toml into a fresh lock file.
lock:
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1" -e ".[book,test]"
	_build/lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > $(LOCK)
	rm -rf _build/lockenv

clean:
	rm -rf _build
