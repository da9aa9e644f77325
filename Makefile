# Groundswell: `make run` starts the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)
# Translations (Flask-Babel): campaign/translations/<lang>/LC_MESSAGES/messages.po are the
# source; the .mo files the app reads are compiled from them here (not committed).
TRANSLATIONS := campaign/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED_CATALOGUES := $(CATALOGUES:.po=.mo)
BABEL_KEYWORDS := -k _l -k lazy_gettext

.PHONY: run test test-fast install browser loadgen bench chaos lint lock clean translations \
	cluster cluster-chaos cluster-bench cluster-deps

run: install
	$(PY) -m campaign.launcher

# Two lanes, one after the other (after the lint). First every test but the system lane
# (tests/unit, web, jobs, security, browser), spread over PYTEST_WORKERS processes
# (pytest-xdist; each has its own Redis, PostgreSQL, Chromium and live server); then the
# system lane (tests/system: the chaos, cluster, replica and bench smoke runs, each starting a
# production shape of its own) after it, also in two processes: its runs mostly wait (on RQ
# noticing a killed worker, on a load's seconds), and tests/system/conftest.py orders them so
# that each process gets about half of the waiting. Tests are handed out
# one by one and an idle process takes work from the busy one (worksteal), so that the two
# long walks (accessibility, boundaries) do not leave one process working alone at the end;
# each test has its own empty database, so no test depends on the one before it. Exit
# status 5 is "no test selected" (a -k that picks tests of one lane only).
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist worksteal)
# Compiled modules are kept, under .venv (the work tree stays clean), even where the
# environment sets PYTHONDONTWRITEBYTECODE: each test process otherwise compiled every module
# of the app and the tests from source again, and pytest rewrote every test module's asserts
# again, at every run (2.4 of a worker's 4.6 s before its first test).
PYTEST_LANE = PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache \
	$(PY) -m pytest $(1) $(PYTEST_ARGS) || [ $$? -eq 5 ]

test: install lint browser loadgen cluster-deps node_modules/axe-core/axe.min.js
	$(call PYTEST_LANE,-m "not system" $(PYTEST_PARALLEL))
	$(call PYTEST_LANE,-m system $(PYTEST_PARALLEL))

# The inner loop: no browser, no system lane.
test-fast: install loadgen
	$(call PYTEST_LANE,-m "not browser and not system" $(PYTEST_PARALLEL))

# axe-core (accessibility checks in the browser tests), from the npm registry, as locked.
node_modules/axe-core/axe.min.js: package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

install: $(STAMP) $(COMPILED_CATALOGUES)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(VENV)/bin/pybabel -q compile --domain messages -i $< -o $@

# Extract every marked string, merge it into each catalogue, compile. Then translate the new
# or changed entries (msgstr empty or "#, fuzzy") and run it again.
translations: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --add-location=file \
		--project Groundswell -o $(TRANSLATIONS)/messages.pot .
	$(VENV)/bin/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -w 100 \
		--ignore-obsolete
	$(MAKE) --no-print-directory $(COMPILED_CATALOGUES)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Groundswell needs Python 3.11 or newer (found $$($(PYTHON) --version))."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

# The browser tests drive Debian's Chromium in its headless shell (the old headless mode, as a
# browser of its own: the browser lane took 107 s with it and 191 s with the full browser);
# install it when we can, else say what to do.
browser:
	@[ -x /usr/bin/chromium-headless-shell ] || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium's headless shell for the browser tests (apt-get)…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell >/dev/null; \
		else \
			echo "The browser tests need Chromium's headless shell at /usr/bin/chromium-headless-shell."; \
			echo "Install it (Debian/Ubuntu: sudo apt-get install chromium-headless-shell) and run make test again."; \
			exit 1; \
		fi; }

# Benchmarks against the production shape on this machine (see bench/__init__.py); not part of
# `make test`, which runs only a smoke run of them. Extra arguments: make bench BENCH_ARGS="--smoke".
bench: install loadgen
	$(PY) -m bench $(BENCH_ARGS)

# Fault injection against the production shape (tests/system/chaos/run.py): the full run, about ten
# minutes, printing its figures. `make test` runs the same suite small (CHAOS_SIZE=small).
chaos: install loadgen
	CHAOS_SIZE=full $(PY) -m pytest tests/system/chaos -m chaos -s $(PYTEST_ARGS)

# The production topology on this machine (bench/cluster/topology.py): a network namespace per
# host, HAProxy, three app hosts, PostgreSQL primary and replica, Redis with Sentinel, workers
# on two hosts. Needs root. Ctrl-C stops it all.
cluster: install loadgen cluster-deps
	$(PY) -m bench.cluster

# The same topology broken on purpose, full size, printing its figures (make test runs it small).
cluster-chaos: install loadgen cluster-deps
	CLUSTER_SIZE=full $(PY) -m pytest tests/system/cluster -m cluster -s $(PYTEST_ARGS)

# Signing and page throughput through the load balancer with 1, 2 and 3 app hosts, replica lag.
cluster-bench: install loadgen cluster-deps
	$(PY) -m bench.cluster.throughput $(BENCH_ARGS)

# HAProxy, Redis and Sentinel (Debian's packages) for the cluster; install them when we can.
cluster-deps:
	@command -v haproxy >/dev/null 2>&1 && command -v redis-sentinel >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing HAProxy, Redis and Sentinel for the cluster (apt-get)…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				iproute2 haproxy redis-server redis-sentinel >/dev/null; \
		else \
			echo "The cluster needs root and HAProxy, redis-server and redis-sentinel."; \
			echo "Install them (Debian/Ubuntu: sudo apt-get install haproxy redis-server redis-sentinel)."; \
			exit 1; \
		fi; }

# The benchmarks drive load with wrk and receive mail with Postfix's smtp-sink (bench/smtp_sink.py:
# a C test server that takes a tenth of aiosmtpd's CPU a message, which on two shared cores the
# app's figures need), both Debian's packages (wrk, postfix); install them when we can, else say
# what to do.
loadgen:
	@command -v wrk >/dev/null 2>&1 && { command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; } || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing wrk and Postfix's smtp-sink for the benchmarks (apt-get)…"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postfix >/dev/null; \
		else \
			echo "The benchmarks need wrk and Postfix's smtp-sink."; \
			echo "Install them (Debian/Ubuntu: sudo apt-get install wrk postfix) and run make again."; \
			exit 1; \
		fi; }

# Style is checked, not discussed: ruff's lint rules and its formatter (part of `make test`).
LINTED := campaign tests bench migrations wsgi.py
lint: install
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

# Re-resolve the locked versions from pyproject.toml's ranges (run by a developer, not CI).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check ".[test]"
	.lock-venv/bin/pip freeze --exclude groundswell > requirements.lock
	rm -rf .lock-venv build

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
