"""The shared cache that upload counts live in (finding 3: with the default
per-process cache, two gunicorn workers allowed twice the API's rate)."""

import os
import subprocess
import sys

from tests.conftest import REPO

TAKE_TWO = """
import django
django.setup()
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from classifiers.api.throttling import UploadThrottle
request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.7")
request.user = AnonymousUser()
print(" ".join(str(UploadThrottle().allow_request(request)) for _ in range(2)))
"""


def _env(**env) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE", "CACHE_", "REDIS_", "UPLOAD_", "API_"))
    }
    return {**clean, "DJANGO_SETTINGS_MODULE": "portfolio.settings", "DJANGO_LOCAL_DEV": "1", **env}


def _run(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(**env), capture_output=True, text=True
    )


def test_by_default_every_process_counts_in_one_database_cache(tmp_path):
    """Two processes, as `make run`'s two gunicorn workers: the second one sees
    the first one's uploads, so one client gets the rate once, not per process."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "UPLOAD_ANON_RATE": "3/hour"}
    made = subprocess.run(
        [sys.executable, "manage.py", "createcachetable"],
        cwd=REPO,
        env=_env(**env),
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr

    first = _run(TAKE_TWO, **env)
    second = _run(TAKE_TWO, **env)

    assert first.stdout.split() == ["True", "True"], first.stderr
    assert second.stdout.split() == ["True", "False"], second.stderr


def test_it_uses_redis_when_cache_url_says_so():
    code = "import portfolio.settings as s; print(s.CACHES['default']['BACKEND'])"
    default = _run(code)
    redis = _run(code, CACHE_URL="redis://127.0.0.1:6379/1")
    assert default.stdout.strip() == "django.core.cache.backends.db.DatabaseCache"
    assert redis.stdout.strip() == "django.core.cache.backends.redis.RedisCache"


def test_it_reads_the_upload_rates_under_their_old_api_names_too():
    code = "import portfolio.settings as s; print(s.UPLOAD_ANON_RATE, s.UPLOAD_USER_RATE)"
    assert _run(code).stdout.split() == ["30/hour", "300/hour"]
    old = _run(code, API_ANON_UPLOAD_RATE="5/minute", API_USER_UPLOAD_RATE="50/day")
    assert old.stdout.split() == ["5/minute", "50/day"]
    new = _run(code, UPLOAD_ANON_RATE="7/hour", API_ANON_UPLOAD_RATE="5/minute")
    assert new.stdout.split()[0] == "7/hour"


def test_a_malformed_rate_fails_at_start():
    result = _run("import portfolio.settings", UPLOAD_ANON_RATE="thirty an hour")
    assert result.returncode != 0
    assert "UPLOAD_ANON_RATE='thirty an hour' is not a rate like 30/hour" in result.stderr
