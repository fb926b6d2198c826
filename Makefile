# The README's commands. Each creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-embedded test-production test-browser bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

## make run: web + worker on the embedded default (SQLite, no Redis) at http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/flask --app app db upgrade
	@echo "MediaNest on http://$${HOST:-127.0.0.1}:$${PORT:-5000} (worker and web; Ctrl-C stops both)"
	@$(BIN)/huey_consumer medianest.tasks.huey --workers 2 --worker-type thread & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app app run --host "$${HOST:-127.0.0.1}" --port "$${PORT:-5000}"

## make test: the suite on the embedded stack, then on PostgreSQL + Redis when the test URLs are set;
## both run even when the first fails, and the target fails at the end if either did
test: $(STAMP)
	@embedded=0; production=0; \
	$(MAKE) --no-print-directory test-embedded || embedded=$$?; \
	if [ -n "$$MEDIANEST_TEST_DATABASE_URL$$MEDIANEST_TEST_REDIS_URL" ]; then \
		$(MAKE) --no-print-directory test-production || production=$$?; \
	else echo "MEDIANEST_TEST_DATABASE_URL / MEDIANEST_TEST_REDIS_URL not set: PostgreSQL + Redis run skipped"; fi; \
	[ $$embedded -eq 0 ] || echo "== FAILED: tests on the embedded stack (exit $$embedded)"; \
	[ $$production -eq 0 ] || echo "== FAILED: tests on PostgreSQL + Redis (exit $$production)"; \
	[ $$embedded -eq 0 ] && [ $$production -eq 0 ]

test-embedded: $(STAMP)
	@echo "== tests on the embedded stack (SQLite, no Redis)"
	env -u MEDIANEST_TEST_DATABASE_URL -u MEDIANEST_TEST_REDIS_URL $(BIN)/pytest -q -p no:cacheprovider

test-production: $(STAMP)
	@echo "== tests on PostgreSQL + Redis"
	$(BIN)/pytest -q -p no:cacheprovider

test-browser: $(STAMP)
	$(BIN)/pytest -q -m browser

## make bench: gunicorn + worker on PostgreSQL and Redis under wrk, as ratios to a bare Flask endpoint measured
## in the same run, then the scale run (needs wrk: apt-get install wrk). BENCH_ARGS=--quick for a short run.
bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
