# Set-up is part of every target: a fresh machine needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench results install clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rtgs2 demo

# Headless Chromium for the viewer's browser test (tests/viewer/test_view.py skips without it):
# installed with apt-get when missing, if we are root on a Debian-like machine; else a note.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	  else echo "make: no chromium, and apt-get needs root: tests/viewer/test_view.py will skip"; fi; }

test: $(STAMP) browser
	$(PY) -m pytest -n 2 -q

# The paper-style table of the shipped models: the v2 chain, continued on SynthRooms v3, then the fusion
# variants anew on 94 v3-style rooms (about 14 h on 2 CPU cores; rerun to continue).
results: $(STAMP)
	$(VENV)/bin/rtgs2 reproduce --preset v3x3

bench: $(STAMP)
	$(PY) benchmarks/render.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
