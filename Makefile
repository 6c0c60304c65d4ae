# Everything a fresh clone needs: `make run` serves the site with a worker,
# `make test` runs the whole suite. Both set themselves up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
UV := $(BIN)/uv
# build_models writes every artifact the specs name; the stamp says it ran.
MODELS := ml_models/.built
WORKER_CONCURRENCY ?= 1
# Web: 2 processes for 2 cores; threads beyond the CPU work because status
# requests held by a long poll (?wait=, ANSWER_WAITERS per process, fewer than
# these threads) only wait. Chosen with bench/throughput.py: see README.
GUNICORN_WORKERS ?= 2
GUNICORN_THREADS ?= 16
# Archives holding the look-alike demo's default gallery photos (read, never
# installed: see classifiers/management/commands/setup_gallery.py).
GALLERY_PACKAGES := var/gallery-packages
GALLERY_STAMP := $(GALLERY_PACKAGES)/.downloaded

# Local runs may use the built-in insecure key; production sets DJANGO_SECRET_KEY.
export DJANGO_LOCAL_DEV ?= 1
export PYTHONUNBUFFERED := 1
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: run test setup install lock lock-upgrade models gallery-packages db worker beat lint bench clean

# Packages come from the locks (every package pinned, with its hashes), installed
# by uv: a fresh clone's set-up took 63-117 s with pip, most of it resolving and
# installing (README "Set-up"). uv itself is installed by pip, hash-checked, from
# its entry in requirements-dev.lock.
$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	mkdir -p var
	awk '/^uv==/ {p = 1; print; next} p && /^[^ ]/ {exit} p' requirements-dev.lock > var/uv.lock.txt
	$(PY) -m pip install --quiet --no-deps --require-hashes -r var/uv.lock.txt

$(STAMP): requirements.lock requirements-dev.lock | $(UV)
	$(UV) pip sync --quiet --python $(PY) --require-hashes requirements-dev.lock
	touch $(STAMP)

install: $(STAMP)

# requirements.txt and requirements-dev.txt are the direct requirements; the
# locks are compiled from them for Linux x86_64 and Python 3.11 (the platform
# the site supports: README "Platforms"), whoever runs this and wherever.
# Pins already in a lock are kept unless `make lock-upgrade`; the dev lock takes
# the runtime lock as constraints, so both install the same runtime packages.
# tests/test_requirements.py fails while a lock misses a direct pin.
LOCK_FLAGS := --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
lock: export UV_CUSTOM_COMPILE_COMMAND := make lock
lock: | $(UV)
	$(UV) pip compile $(LOCK_FLAGS) $(UPGRADE) requirements.txt -o requirements.lock
	$(UV) pip compile $(LOCK_FLAGS) $(UPGRADE) -c requirements.lock requirements-dev.txt \
		-o requirements-dev.lock

lock-upgrade: UPGRADE := --upgrade
lock-upgrade: lock

$(MODELS): $(STAMP) classifiers/inference/efficientnet_lite.py classifiers/inference/torch_weights.py classifiers/catalog.py
	$(PY) manage.py build_models
	touch $(MODELS)

models: $(MODELS)

# The face-recognition sdist is only unpacked (installing it would build dlib
# from source); the wheels are fetched for one platform whatever the host,
# since only their sample images are read.
$(GALLERY_STAMP): $(STAMP)
	mkdir -p $(GALLERY_PACKAGES)
	$(PY) -m pip download --quiet --no-deps --no-binary :all: -d $(GALLERY_PACKAGES) \
		face-recognition==1.3.0
	$(PY) -m pip download --quiet --no-deps --only-binary :all: -d $(GALLERY_PACKAGES) \
		--platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
		matplotlib==3.10.7 scikit-image==0.25.2 insightface==2.1
	touch $@

gallery-packages: $(GALLERY_STAMP)

db: $(MODELS) $(GALLERY_STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable  # the default shared cache (upload counts), when no CACHE_URL
	$(PY) manage.py setup_demos
	$(PY) manage.py setup_gallery $(GALLERY_PACKAGES)
	$(PY) manage.py collectstatic --noinput --verbosity 0

setup: db

# gunicorn bounds the request line and headers, never the body: bodies are
# capped by URL in portfolio/middleware.py, before Django reads them, since
# only Django knows which URL may take a model file and which only a photo.
GUNICORN_LIMITS := --limit-request-line 4094 --limit-request-fields 50 \
	--limit-request-field_size 8190

# Beat sends the sweep that re-queues predictions a dead worker or a lost
# message left behind (every few seconds) and the daily housekeeping; its
# schedule file is var/celerybeat-schedule (CELERY_BEAT_SCHEDULE_FILENAME).
run: setup
	@echo "Serving http://127.0.0.1:8000 with a Celery worker and beat (Ctrl-C stops all)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A portfolio worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY) & \
	$(BIN)/celery -A portfolio beat --loglevel=INFO & \
	$(BIN)/gunicorn portfolio.wsgi --bind 127.0.0.1:8000 --workers $(GUNICORN_WORKERS) --threads $(GUNICORN_THREADS) --access-logfile - \
		$(GUNICORN_LIMITS) & \
	wait

worker: setup
	$(BIN)/celery -A portfolio worker --loglevel=INFO --concurrency=$(WORKER_CONCURRENCY)

# One beat per site, however many workers (production runs it as its own process).
beat: setup
	$(BIN)/celery -A portfolio beat --loglevel=INFO

# The suite talks to real PostgreSQL and Redis (the queue and worker tests
# need them); point these elsewhere if yours are not on localhost.
test: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
test: export CELERY_BROKER_URL ?= redis://127.0.0.1:6379/15
test: $(MODELS)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(PY) bench/accuracy.py
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) var ml_models/*.keras
