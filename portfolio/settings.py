"""Settings, read from the environment (django-environ) with safe defaults.

With nothing set the site runs locally on SQLite and a filesystem Celery
broker. Production sets DJANGO_SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL,
DJANGO_ALLOWED_HOSTS; DEBUG is off unless asked for.
"""

import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from portfolio.logs import logging_config
from portfolio.storage import FILESYSTEM_STORAGE, s3_storage

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state for the embedded defaults (db, broker, media)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; absent on CI and fresh clones

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_flag(name: str, default: bool) -> bool:
    """A boolean from the environment; anything but a clear yes/no stops start-up."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no")


DEBUG = env_flag("DJANGO_DEBUG", default=False)
LOCAL_DEV = env_flag("DJANGO_LOCAL_DEV", default=False)  # `make run` / `make test` set it

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or LOCAL_DEV):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it, or DJANGO_LOCAL_DEV=1 for a local run."
        )
    SECRET_KEY = "local-only-insecure-key-never-use-in-production"  # noqa: S105

# `testserver` is Django's test client: a host name for local runs and tests only.
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=["127.0.0.1", "localhost", *(["testserver"] if LOCAL_DEV else [])],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc files served locally: no CDN
    "classifiers",
]

MIDDLEWARE = [
    # First: refuses an oversized request body before anything reads it (issue 9).
    "portfolio.middleware.RequestBodyLimitMiddleware",
    # Health probes come by address and over plain HTTP: answered before the
    # host check and the HTTPS redirect (portfolio/middleware.py).
    "portfolio.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portfolio.urls"
WSGI_APPLICATION = "portfolio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web process and the worker write the same file: wait for the lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "classifiers:history"
LOGOUT_REDIRECT_URL = "classifiers:gallery"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads are private: there is deliberately no MEDIA_URL route; images are
# served by a view that checks who is asking.
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=VAR_DIR / "media"))
# Uploads, heatmaps, model artifacts, evaluation sets and gallery photos live
# in the "default" storage, read and written only through Django's storage
# API (portfolio/storage.py). MEDIA_ROOT on this machine by default; with
# AWS_STORAGE_BUCKET_NAME set, a private S3-compatible bucket that web and
# workers on other machines share (credentials: AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, or an instance role).
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
_S3_OPTIONS = {
    "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=""),  # MinIO, Ceph, R2...
    "region": env.str("AWS_S3_REGION_NAME", default=""),
    "location": env.str("AWS_LOCATION", default=""),  # a key prefix inside the bucket
    "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default=""),
}
if _S3_OPTIONS["addressing_style"] not in ("", "auto", "path", "virtual"):
    raise ImproperlyConfigured("AWS_S3_ADDRESSING_STYLE must be auto, path or virtual")
if not AWS_STORAGE_BUCKET_NAME and any(_S3_OPTIONS.values()):
    # Never a silent fallback to this machine's disk, which workers elsewhere cannot see.
    raise ImproperlyConfigured(
        "AWS_S3_* or AWS_LOCATION is set but AWS_STORAGE_BUCKET_NAME is not: set the bucket "
        "to store files in S3, or unset them to keep files under DJANGO_MEDIA_ROOT."
    )
STORAGES = {
    "default": s3_storage(bucket=AWS_STORAGE_BUCKET_NAME, **_S3_OPTIONS)
    if AWS_STORAGE_BUCKET_NAME
    else FILESYSTEM_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploads: the view reads at most UPLOAD_MAX_BYTES + 1 of a file (bodies are
# capped before they are read: "Fair queues and request limits" below).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env.int("UPLOAD_MAX_PIXELS", default=40_000_000)

# Admin uploads of model versions (validated in a worker before anyone can serve them).
MODEL_UPLOAD_MAX_BYTES = env.int("MODEL_UPLOAD_MAX_BYTES", default=300 * 1024 * 1024)

# Celery. Default: kombu's filesystem transport under var/, so `make run`
# needs no Redis; set CELERY_BROKER_URL=redis://... for production and CI.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=VAR_DIR / "broker"))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        "control_folder": str(_BROKER_DIR / "control"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        # The filesystem transport polls; the default 1 s would add up to 2 s
        # to every answer. Listing a local folder 20 times a second is cheap.
        "polling_interval": 0.05,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # How long Redis keeps a fetched, unacknowledged message before handing it
    # out again. Recovery from a dead worker does not wait for it: the sweep
    # below re-queues the row (see "Nothing lost when a worker dies").
    else {"visibility_timeout": 3600}
)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="predictions")
CELERY_TASK_IGNORE_RESULT = True  # results live in the Prediction row
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per process (inference is long and CPU-bound). The
# filesystem broker of local runs is the exception: its worker loop re-checks
# a full prefetch window only every 2 s, which added ~2 s to every answer.
CELERY_WORKER_PREFETCH_MULTIPLIER = 2 if CELERY_BROKER_URL.startswith("filesystem") else 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_TASK_ALWAYS_EAGER = False
# A new worker process loads the promoted models before taking work
# (classifiers.tasks.warm_up_promoted_models); give it time to report ready.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 120
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# -- Nothing lost when a worker dies; housekeeping (celery beat) ---------------
# The database row is the truth and the broker only a doorbell. A worker
# refreshes the heartbeat of the predictions it runs; a sweep (every
# PREDICTION_SWEEP_SECONDS from celery beat, and once when a worker starts)
# puts a running row whose heartbeat stopped back in the queue and rings
# again, fails it after PREDICTION_MAX_ATTEMPTS claims (a photo that kills
# its worker every time must not loop), rings again for a queued row whose
# message was lost (the filesystem broker deletes a message when it is
# fetched, a Redis restart forgets its queue: the row waited
# PREDICTION_RESEND_SECONDS, or a later upload was taken before it) and fails
# one nobody took in PREDICTION_QUEUED_GIVE_UP_SECONDS. A second delivery of
# the same id is harmless: the claim is a conditional UPDATE.
PREDICTION_HEARTBEAT_SECONDS = env.float("PREDICTION_HEARTBEAT_SECONDS", default=5.0)
PREDICTION_STALE_SECONDS = env.float("PREDICTION_STALE_SECONDS", default=30.0)
PREDICTION_MAX_ATTEMPTS = env.int("PREDICTION_MAX_ATTEMPTS", default=3)
PREDICTION_RESEND_SECONDS = env.float("PREDICTION_RESEND_SECONDS", default=60.0)
# Sooner when a later upload was taken this long ago while a row still waits:
# the queue is first-in, first-out, so that row's message was lost.
PREDICTION_OVERTAKEN_SECONDS = env.float("PREDICTION_OVERTAKEN_SECONDS", default=10.0)
PREDICTION_QUEUED_GIVE_UP_SECONDS = env.float("PREDICTION_QUEUED_GIVE_UP_SECONDS", default=3600.0)
PREDICTION_SWEEP_SECONDS = env.float("PREDICTION_SWEEP_SECONDS", default=10.0)
if not 0 < 2 * PREDICTION_HEARTBEAT_SECONDS <= PREDICTION_STALE_SECONDS:
    # One late heartbeat must not look like a dead worker.
    raise ImproperlyConfigured(
        "PREDICTION_STALE_SECONDS must be at least twice PREDICTION_HEARTBEAT_SECONDS (> 0)"
    )
if PREDICTION_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("PREDICTION_MAX_ATTEMPTS must be at least 1")
# How long the main worker process waits for a result from a pool process that
# died before calling it lost (Celery's default: 10 s). Results are ignored here
# (they live in the rows), and a lost prediction is rescued only once this passes.
CELERY_WORKER_LOST_WAIT = 2.0
# Anonymous predictions (no account) and their photos are deleted after this.
ANONYMOUS_RETENTION_DAYS = env.int("ANONYMOUS_RETENTION_DAYS", default=30)
# A prediction deleted from a page can be restored ("Undo") for this long;
# then beat's purge (every minute) removes it with its photo and heatmap.
PREDICTION_UNDO_SECONDS = env.int("PREDICTION_UNDO_SECONDS", default=300)

# Sweeps and housekeeping have a queue of their own, so a long queue of
# uploads never delays the sweep that rescues them. Every worker consumes
# both (a worker started without -Q takes every queue listed here).
CELERY_HOUSEKEEPING_QUEUE = "housekeeping"
# Each queue with its own exchange and routing key (as Celery makes a queue it
# is not told of): sharing the default key would copy every message to both.
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in (CELERY_TASK_DEFAULT_QUEUE, CELERY_HOUSEKEEPING_QUEUE)
)
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_HOUSEKEEPING_QUEUE}
    for name in (
        "classifiers.sweep_predictions",
        "classifiers.rescue_prediction",
        "classifiers.sweep_versions",
        "classifiers.expire_anonymous_predictions",
        "classifiers.purge_deleted_predictions",
        "classifiers.remove_invalid_version_files",
        "portfolio.clear_expired_sessions",
    )
}
_HOUR, _DAY = 3600, 24 * 3600
CELERY_BEAT_SCHEDULE = {
    # A sweep message older than its period is pointless: the next one follows.
    "sweep-predictions": {
        "task": "classifiers.sweep_predictions",
        "schedule": PREDICTION_SWEEP_SECONDS,
        "options": {"expires": PREDICTION_SWEEP_SECONDS},
    },
    "sweep-versions": {
        "task": "classifiers.sweep_versions",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "expire-anonymous-predictions": {
        "task": "classifiers.expire_anonymous_predictions",
        "schedule": _HOUR,
        "options": {"expires": _HOUR},
    },
    "purge-deleted-predictions": {
        "task": "classifiers.purge_deleted_predictions",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "remove-invalid-version-files": {
        "task": "classifiers.remove_invalid_version_files",
        "schedule": _DAY,
        "options": {"expires": _HOUR},
    },
    "clear-expired-sessions": {
        "task": "portfolio.clear_expired_sessions",
        "schedule": _DAY,
        "options": {"expires": _HOUR},
    },
}
# `make run` keeps beat's last-run times under var/ (production: any writable path).
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)
# -- end of the worker-faults block ----------------------------------------------

# Readiness (/health/ready, portfolio/health.py): a worker must have finished a
# task (a prediction, or the sweep beat sends every PREDICTION_SWEEP_SECONDS)
# in the last READINESS_WORKER_SECONDS; the broker's connection gives up after
# READINESS_TIMEOUT_SECONDS.
READINESS_WORKER_SECONDS = env.float("READINESS_WORKER_SECONDS", default=60.0)
if READINESS_WORKER_SECONDS <= PREDICTION_SWEEP_SECONDS:
    raise ImproperlyConfigured(
        "READINESS_WORKER_SECONDS must be longer than PREDICTION_SWEEP_SECONDS, or an idle "
        "site's workers look gone between two sweeps"
    )
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=2.0)

# Micro-batching: a worker answers up to PREDICTION_BATCH_SIZE waiting
# predictions of one demo in one forward pass (each still claimed, stored and
# failed on its own). Measured with bench/throughput.py: see README.
PREDICTION_BATCH_SIZE = env.int("PREDICTION_BATCH_SIZE", default=16)
if PREDICTION_BATCH_SIZE < 1:
    raise ImproperlyConfigured("PREDICTION_BATCH_SIZE must be at least 1")
# How long a worker waits for company when its batch is not full (ms).
PREDICTION_BATCH_WAIT_MS = env.int("PREDICTION_BATCH_WAIT_MS", default=0)

# Long polls (classifiers/predictions/ready.py): a status request with ?wait=S
# is held until its answer is stored, woken by the worker over Redis pub/sub;
# off (the client polls) without Redis. ANSWER_WAITERS per web process must
# stay below its threads (Makefile GUNICORN_THREADS) so that held requests
# never take the threads that pages and uploads need.
ANSWER_SIGNAL_URL = env.str(
    "ANSWER_SIGNAL_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
ANSWER_WAITERS = env.int("ANSWER_WAITERS", default=12)
ANSWER_WAIT_MAX_SECONDS = env.int("ANSWER_WAIT_MAX_SECONDS", default=20)

# Where the shipped model artifacts are built, and the benchmark photos.
ML_MODELS_DIR = Path(env.str("ML_MODELS_DIR", default=BASE_DIR / "ml_models"))
SHARED_DATA_DIR = Path(env.str("SHARED_DATA_DIR", default=BASE_DIR.parent / "shared" / "data"))
# How many loaded Keras models one worker process keeps in memory.
MODEL_CACHE_SIZE = env.int("MODEL_CACHE_SIZE", default=4)
# Keras loads from a local file: each machine copies a version's artifact from
# the storage into this folder once, named by its sha256 (and checked against
# it). Local to the machine, never shared; safe to empty at any time.
MODEL_CACHE_DIR = Path(
    env.str("MODEL_CACHE_DIR", default=Path(tempfile.gettempdir()) / "portfolio-models")
)

# Uploads are refused with 503 while this many predictions (queued in the last
# QUEUE_WINDOW_SECONDS) wait for a worker: better an honest "try again in a
# minute" than a spinner that never ends.
QUEUE_MAX_DEPTH = env.int("QUEUE_MAX_DEPTH", default=200)
QUEUE_WINDOW_SECONDS = env.int("QUEUE_WINDOW_SECONDS", default=600)
QUEUE_RETRY_AFTER = env.int("QUEUE_RETRY_AFTER", default=60)

# --- Fair queues and request limits (issue 9) --------------------------------
# One client (an account, else an address: classifiers/clients.py) must not be
# able to take the site from everyone else.

# The shared cache: upload counts live here, so every web process sees the same
# counts. Redis in production (CACHE_URL=redis://host:6379/1). With nothing set,
# a table in the database (made by `manage.py createcachetable`, which `make`
# runs): memory local to each process would give every gunicorn worker an
# allowance of its own.
_CACHE_URL = env.str("CACHE_URL", default="") or env.str("REDIS_CACHE_URL", default="")
CACHES = {
    "default": env.cache_url_config(_CACHE_URL)
    if _CACHE_URL
    else {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "portfolio_cache",
        # Culling is by count; a row per client that uploaded in the last hour.
        "OPTIONS": {"MAX_ENTRIES": 50_000},
    }
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite has one writer: a transaction that reads then writes (the
    # per-client count below, the database cache) takes the write lock up front
    # instead of deadlocking with another one and failing "database is locked".
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"


def _rate(name: str, fallback: str, default: str) -> str:
    """An upload rate like 30/hour (per second, minute, hour or day)."""
    raw = env.str(name, default="") or env.str(fallback, default=default)
    number, _, period = raw.replace(" ", "").partition("/")
    periods = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}
    if not (number.isdigit() and period in periods):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate like 30/hour")
    return f"{int(number)}/{period}"


# Uploads per client, through the pages and the API together (429 past them).
# The API_* names are the ones read before the pages were limited too.
UPLOAD_ANON_RATE = _rate("UPLOAD_ANON_RATE", "API_ANON_UPLOAD_RATE", "30/hour")  # per address
UPLOAD_USER_RATE = _rate("UPLOAD_USER_RATE", "API_USER_UPLOAD_RATE", "300/hour")  # per account
# "This answer is wrong" flags per client (classifiers.feedback.throttling):
# no account is needed to flag, so a client is its account or its address.
FLAG_RATE = _rate("FLAG_RATE", "FLAG_RATE", "20/hour")
# A client with this many predictions queued or running gets 429 until its
# photos are answered: no one client can fill QUEUE_MAX_DEPTH for the others.
QUEUE_MAX_PER_CLIENT = env.int("QUEUE_MAX_PER_CLIENT", default=10)
QUEUE_CLIENT_RETRY_AFTER = env.int("QUEUE_CLIENT_RETRY_AFTER", default=15)

# Request bodies: portfolio.middleware refuses (413) a body larger than its URL
# takes (UPLOAD_MAX_BYTES on the demo pages and the API, MODEL_UPLOAD_MAX_BYTES
# on the staff upload pages) before anything reads it. Below these sizes Django
# keeps a body in memory; a larger file is spooled to a temporary file.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # form fields other than files (Django's default)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# --- end of fair queues and request limits -----------------------------------

REST_FRAMEWORK = {
    # Token first: its challenge makes a missing or bad credential a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "classifiers.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    # Upload rates: UPLOAD_ANON_RATE and UPLOAD_USER_RATE (classifiers.api.throttling).
    # Clients are told apart by REMOTE_ADDR alone: X-Forwarded-For is written by
    # the client unless a proxy we run rewrites it, so it is trusted only for as
    # many proxies as API_NUM_PROXIES says sit in front of the site.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Model gallery API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Upload a photo to a deployed deep-learning demo and poll for the answer. "
        "`POST /api/v1/predictions/` answers 202 with the prediction's URL; `GET` it "
        "until `finished` is true. Anonymous clients may upload and read a prediction "
        "by its id; with a token (`Authorization: Token <key>`, from /accounts/token/) "
        "your predictions are listed and deletable, and private to you."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", default=not (DEBUG or LOCAL_DEV))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# -- Security and production (issue 9) ------------------------------------------
# With DJANGO_LOCAL_DEV off the site is in production: the embedded defaults of
# local runs (SQLite, the filesystem broker, a cache per process) are an error
# at start-up, never a silent fallback, and `manage.py check --deploy` is clean.
PRODUCTION = not LOCAL_DEV
if PRODUCTION:
    _missing = [name for name in ("DATABASE_URL", "CELERY_BROKER_URL") if not env.str(name, "")]
    if not (env.str("CACHE_URL", default="") or env.str("REDIS_CACHE_URL", default="")):
        _missing.append("CACHE_URL")
    if _missing:
        raise ImproperlyConfigured(
            f"{', '.join(_missing)} {'is' if len(_missing) == 1 else 'are'} not set: production "
            "(DJANGO_LOCAL_DEV off) needs PostgreSQL (DATABASE_URL), a Redis broker "
            "(CELERY_BROKER_URL) and a shared cache (CACHE_URL). Set DJANGO_LOCAL_DEV=1 for a "
            "local run on the embedded defaults."
        )

# HTTPS only. HSTS tells browsers to use nothing else for this host (and its
# subdomains) for DJANGO_HSTS_SECONDS; a year is what browsers' preload lists
# ask for. Preloading is a separate, slow-to-undo submission, so it is opt-in,
# and Django's reminder about it (security.W021) is silenced until then.
SECURE_SSL_REDIRECT = env_flag("DJANGO_SSL_REDIRECT", default=PRODUCTION)
# A load balancer's probe may speak plain HTTP (/health/* are answered before
# the redirect: portfolio.middleware.HealthProbeMiddleware).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a proxy that ends TLS, every request reaches Django as plain HTTP: the
# proxy's X-Forwarded-Proto says what the client used. Trusted only when said
# so, since without such a proxy any client could send that header.
if env_flag("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): everything from this site itself; no
# CDN, no inline script (static/js holds all of it), no plugins, no framing.
# Styles: stylesheets from 'self' only, but style *attributes* are allowed:
# the answer bars are sized by one (results/_bars.html, width = the score)
# and the admin sets a few; an attribute can restyle, not run code. Images:
# 'self' and data: URIs (the admin's and the API docs' icons).
from csp.constants import NONE, SELF, UNSAFE_INLINE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]

# Login throttling (django-axes) on every login form, the site's and the admin's:
# after LOGIN_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair is refused for LOGIN_COOLOFF_MINUTES (each further try restarts the
# wait), the right password included. Per username *and* address, so a stranger
# cannot lock a staff member out from elsewhere. Counted in the database: all
# web processes share it whatever the cache is.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes requires
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "portfolio.logins.client_address"  # API_NUM_PROXIES, as the API
AXES_RESET_ON_SUCCESS = True
# The refusal page (portfolio/logins.py) says "too many attempts" and when to
# try again, never how many tries are left.
AXES_LOCKOUT_CALLABLE = "portfolio.logins.locked_out"
# Failures are what the lockout needs; a log of every successful login with
# its address would be personal data kept forever.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py command (predict --json prints JSON only)

# Mail: EMAIL_URL (django-environ: smtp+tls://user:password@host:587,
# consolemail:// for a local run). Without it the site sends no mail, so the
# password-reset pages are hidden (404, no link) rather than saying "sent".
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url_config(EMAIL_URL))  # EMAIL_BACKEND, EMAIL_HOST, ...
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
PASSWORD_RESET_BY_MAIL = bool(EMAIL_URL)
# -- end of security and production -----------------------------------------------

# Logs: JSON lines in production (one object per line, each line of an
# upload's journey with its prediction_id: portfolio/logs.py), text for a
# person in local runs. LOG_FORMAT=json|text overrides either.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if LOCAL_DEV else "json").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not json or text")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))
LOGGING_CONFIG = "portfolio.logs.configure"  # warnings become log lines too
