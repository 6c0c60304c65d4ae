"""Settings for the test suite: the normal ones, with the local-run defaults allowed."""

import os

os.environ.setdefault("DJANGO_LOCAL_DEV", "1")

from portfolio.settings import *  # noqa: E402,F403

# Fast hashing: tests create many users; nothing here protects real passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No collectstatic before tests: resolve static files from their folders.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
# Served from the source folders, also by the browser tests' gunicorn (DEBUG off): no
# collectstatic before tests, and never a stale copy in var/staticfiles.
WHITENOISE_USE_FINDERS = True

# The shared cache (upload counts): the test process is the only web process
# (live_server runs in a thread of it), so its memory is shared enough, and
# tests/conftest.py empties it before each test without touching a database.
# tests/portfolio/test_cache.py checks the default of real runs, the database cache.
if not (os.environ.get("CACHE_URL") or os.environ.get("REDIS_CACHE_URL")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
