# The two commands a newcomer needs: `make run` and `make test`.
VENV   ?= .venv
PORT   ?= 5000
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench system lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests drive for real (Dovecot, tinyproxy, Dante, PostgreSQL, Chromium);
# no-op when present.
system:
	bash scripts/install-system-deps

# The demo console on http://127.0.0.1:$(PORT)/ (`make run PORT=5001` when 5000 is taken;
# `make run RESET=1` starts again from the sample mails, with a new admin password).
run: $(STAMP)
	$(VENV)/bin/mailcore demo --port $(PORT)$(if $(RESET), --reset)

test: $(STAMP) system
	$(VENV)/bin/ruff check mailcore console tests bench
	$(VENV)/bin/ruff format --check mailcore console tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n 2 -p no:cacheprovider

bench: $(STAMP) system
	$(PY) bench/extract.py
	$(PY) bench/bounces.py
	$(PY) bench/adversarial.py
	$(PY) bench/compose.py
	$(PY) bench/imap.py
	$(PY) bench/workers.py
	$(PY) bench/many.py
	$(PY) bench/multilingual.py
	$(PY) bench/ingest.py
	$(PY) bench/console.py
	$(PY) bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
