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
