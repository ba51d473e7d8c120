# Django 6.1 needs Python 3.12 or newer: the first one found on PATH or under pyenv is used.
PYTHON ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 python3; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_CUSTOMERS ?= 3000
PORT ?= 8000
PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: demo test lint bench bench-faults bench-payload bench-lifecycle bench-segments bench-support bench-privacy bench-merge-suggestions bench-loyalty bench-recommendations bench-attribution bench-email bench-campaigns bench-campaign-send bench-flows bench-connectors bench-inbound bench-imap worker beat serve migrate


$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (Django 6.1)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --noinput

# The two-command demo: SQLite and in-process tasks unless DATABASE_URL / REDIS_URL say otherwise.
# PORT picks the port; PUBLIC_BASE_URL (the CSAT and review links) follows it unless set.
demo: migrate
	$(PY) manage.py seed_demo --customers $(DEMO_CUSTOMERS) --seed 1 --if-empty
	DJANGO_SUPERUSER_PASSWORD=demo $(PY) manage.py createsuperuser --noinput --username demo --email demo@example.com 2>/dev/null || true
	@echo
	@echo "  Admin:    http://127.0.0.1:$(PORT)/admin/   login: demo / demo (superuser)"
	@echo "            or by role: agent, marketer or manager, password demo"
	@echo "  API docs: http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  API:      http://127.0.0.1:$(PORT)/api/v1/   (a shop key: manage.py create_shop SLUG)"
	@echo "  Health:   http://127.0.0.1:$(PORT)/health/"
	@echo "  Public links (PUBLIC_BASE_URL): $(PUBLIC_BASE_URL)"
	@echo
	PUBLIC_BASE_URL=$(PUBLIC_BASE_URL) $(PY) manage.py demo_server 127.0.0.1:$(PORT)

test: $(VENV)/.installed
	$(VENV)/bin/pytest

# The API's OpenAPI schema snapshot, docs/openapi-v1.yaml: refreshed after the API grows;
# refused while it loses or changes a field, parameter, operation or enum value that
# docs/api-changelog.md does not name (docs/api.md, "Versioning"). `make test` checks it too.
.PHONY: schema client
schema: $(VENV)/.installed
	$(PY) manage.py api_schema --write

# A Python client for the API, generated from the snapshot by the pinned openapi-python-client
# into build/crm-api-client (pip install it there); tests/test_api_client.py generates and uses one.
client: $(VENV)/.installed
	$(VENV)/bin/openapi-python-client generate --path docs/openapi-v1.yaml \
		--config config/openapi-python-client.yaml --output-path build/crm-api-client --overwrite

# What CI checks before the tests (also the pre-commit hooks, .pre-commit-config.yaml).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) bench/run.py

# Outages under load (worker kill, Redis stop, PostgreSQL restart on a throwaway cluster of its
# own, sustained load): lost, duplicated, 5xx and the time to converge; see docs/operations.md.
bench-faults: $(VENV)/.installed
	$(PY) bench/faults.py

# Shopify webhook intake: a burst of 10,000 signed orders/create deliveries verified and stored
# through gunicorn (shipped config) on PostgreSQL (BENCH_CONNECTORS_DATABASE_URL, default
# crm_bench_connectors, recreated), then the same burst re-sent; docs/integrations.md.
bench-connectors: $(VENV)/.installed
	$(PY) bench/connectors.py

# What decoding and validating a 1,000-order bulk body costs, without server or database.
bench-payload: $(VENV)/.installed
	$(PY) bench/payload_checks.py

# Needs a seeded database (BENCH_LIFECYCLE_DATABASE_URL, default crm_big) and Redis; see docs/benchmarks.md.
bench-lifecycle: $(VENV)/.installed
	$(PY) bench/lifecycle.py

# Same database as bench-lifecycle, after it (the metrics must be computed); see docs/benchmarks.md.
bench-segments: $(VENV)/.installed
	$(PY) bench/segments.py

# Its own database (BENCH_SUPPORT_DATABASE_URL, default crm_bench_support), seeded by the script.
bench-support: $(VENV)/.installed
	$(PY) bench/support.py

# Its own database (BENCH_PRIVACY_DATABASE_URL, default crm_bench_privacy), seeded by the
# script: export, preview and erasure of one customer among 100,000 (docs/privacy.md).
bench-privacy: $(VENV)/.installed
	$(PY) bench/privacy.py

# Its own database (BENCH_MERGE_DATABASE_URL, default crm_bench_merge), seeded by seed_demo
# (100,000 customers; BENCH_MERGE_REUSE=1 measures a database seeded before): the suggested
# duplicates' build and a page of them (docs/merge.md).
bench-merge-suggestions: $(VENV)/.installed
	$(PY) bench/merge_suggestions.py

# Its own database (BENCH_LOYALTY_DATABASE_URL, default crm_bench_loyalty), seeded by the script.
bench-loyalty: $(VENV)/.installed
	$(PY) bench/loyalty.py

# Its own database (BENCH_RECO_DATABASE_URL, default crm_bench_reco), seeded by the script
# (1,000,000 customers: BENCH_RECO_CUSTOMERS; BENCH_RECO_REUSE=1 measures a database seeded before).
bench-recommendations: $(VENV)/.installed
	$(PY) bench/recommendations.py

# Its own database (BENCH_ATTR_DATABASE_URL, default crm_bench_attr), seeded by the script;
# BENCH_ATTR_CUSTOMERS scales it (default 1,000,000 customers, 5 orders each).
bench-attribution: $(VENV)/.installed
	$(PY) bench/attribution.py

# Its own database (BENCH_EMAIL_DATABASE_URL, default crm_bench_email) and Redis
# (BENCH_EMAIL_REDIS_URL), 2 Celery workers, an SMTP sink in the script. (Not bench/email.py:
# a script's folder comes first on the import path, and "email" is the standard library's.)
bench-email: $(VENV)/.installed
	$(PY) bench/email_sending.py

# Its own database (BENCH_CAMPAIGNS_DATABASE_URL, default crm_bench_campaigns), seeded by the
# script with COPY, and Redis (BENCH_CAMPAIGNS_REDIS_URL) for 2 Celery workers; an SMTP sink
# in the script. The 100,000-recipient campaign of a million customers, step by step.
bench-campaign-send: $(VENV)/.installed
	$(PY) bench/campaigns.py

# Issue 21's whole benchmark at a million customers, one part after another (each seeds its
# own database; an hour or more in all): the 100,000-recipient campaign and its send rate,
# the flow pass, the recommendations' build and hit rate, the attribution pass.
bench-campaigns: bench-campaign-send bench-flows bench-recommendations bench-attribution

# Its own database (BENCH_FLOWS_DATABASE_URL, default crm_bench_flows), seeded by the script
# with COPY: the flow pass over 1,000,000 due runs and the segment-entry trigger's latency.
bench-flows: $(VENV)/.installed
	$(PY) bench/flows.py

# Its own database (BENCH_INBOUND_DATABASE_URL, default crm_bench_inbound): 1,000 replies to
# emails the desk sent, received and threaded in one process; see docs/benchmarks.md.
bench-inbound: $(VENV)/.installed
	$(PY) bench/inbound.py
# Its own database (BENCH_IMAP_DATABASE_URL, default crm_bench_imap) and a Dovecot of its own:
# 1,000 replies read from a real IMAP server with a handler that does nothing.
bench-imap: $(VENV)/.installed
	$(PY) bench/imap_fetch.py

worker: $(VENV)/.installed
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: $(VENV)/.installed
	$(VENV)/bin/celery -A config beat --loglevel=INFO
