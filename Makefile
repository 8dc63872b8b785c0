# Set-up is part of every target: a fresh machine needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench results install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rtgs2 demo

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

# The paper-style table on SynthRooms v1 (about 14 h on 2 CPU cores; rerun to continue).
results: $(STAMP)
	$(VENV)/bin/rtgs2 reproduce --preset v1

bench: $(STAMP)
	$(PY) benchmarks/render.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
