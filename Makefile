# Two commands set up a fresh machine (in the active Python environment):
#   make demo   installs fdpl, then trains + evaluates supervised-only, FDPL and full
#               supervision on the embedded synthetic data and prints the gap closed
#   make test   installs fdpl with the test requirements and runs the default test suite
PYTHON ?= python
PIP ?= $(PYTHON) -m pip
# torch is installed first and pinned: an unpinned torch may pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install install-tests demo test test-all

install:
	$(PYTHON) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH)"
	$(PIP) install -r requirements/runtime.txt
	$(PIP) install -e . --no-deps

install-tests: install
	$(PIP) install -r requirements/tests.txt

demo: install
	$(PYTHON) tools/demo.py

test: install-tests
	$(PYTHON) -m pytest tests -q

test-all: install-tests
	$(PYTHON) -m pytest tests -q -m ""
