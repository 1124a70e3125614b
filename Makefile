# egoimu: set-up and the README's commands. Everything installs into ./.venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.egoimu-installed
DEMO_OUT ?= runs/demo

.PHONY: install demo test lint clean chromium

# torch first, pinned: on these machines `torch==2.13.0` is the CPU build that lies on disk;
# letting pip resolve a bare `torch` would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/egoimu demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The clip viewer's browser test needs Debian's chromium: installed here when missing and we are root (CI is);
# otherwise, or if the install fails, that test is skipped saying why (the log is in CHROMIUM_LOG).
CHROMIUM_LOG ?= /tmp/egoimu-chromium-install.log
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium for the browser test (apt-get; log: $(CHROMIUM_LOG))"; \
	    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) > $(CHROMIUM_LOG) 2>&1 \
	      || echo "chromium could not be installed (see $(CHROMIUM_LOG)): the browser test will be skipped"; \
	  else \
	    echo "chromium missing and not root: the browser test will be skipped" | tee $(CHROMIUM_LOG); \
	  fi; }

test: lint chromium
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
