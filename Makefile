# Neural style transfer as a service. Two commands matter: `make serve` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR)/handler

.PHONY: install system-deps test test-py test-js lint bench docs clean

install: $(STAMP)

# Reinstall only when requirements.txt changes; the .pth makes `python -m stylize` work from anywhere.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	echo "$(CURDIR)/handler" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/stylize-src.pth"
	touch $@

# Chromium (browser tests) and nginx (proxy tests) from Debian; done once, skipped when present.
system-deps:
	@if ! command -v chromium >/dev/null || ! command -v nginx >/dev/null || ! command -v java >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium nginx openjdk-17-jre-headless >/dev/null; \
	fi

lint: install
	$(VENV)/bin/ruff check handler tests bench

test: install system-deps lint test-js test-py

test-py: install
	$(PY) -m pytest

test-js:
	node --test frontend/tests/

bench: install
	$(PY) -m bench

# Regenerate the README's parameter table from StyleParams.
docs: install
	$(PY) -c 'import re, pathlib; from stylize.params import markdown_table as t; p = pathlib.Path("README.md"); \
	p.write_text(re.sub(r"(<!-- params-table -->\n).*?(<!-- /params-table -->)", lambda m: m[1] + t() + "\n" + m[2], p.read_text(), flags=re.S))'

clean:
	rm -rf model_store/*.mar .pytest_cache .ruff_cache
