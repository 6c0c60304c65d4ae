import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# What a production deployment sets (DJANGO_LOCAL_DEV off).
PRODUCTION = {
    "DJANGO_SECRET_KEY": "k3y-" + "x7Q!pL0v#" * 6,
    "DJANGO_ALLOWED_HOSTS": "demos.example.org",
    "DATABASE_URL": "postgres://site@db.example.org:5432/site",
    "CELERY_BROKER_URL": "redis://redis.example.org:6379/0",
    "CACHE_URL": "redis://redis.example.org:6379/1",
}


def _clean_env() -> dict[str, str]:
    """This process's environment without anything the settings read."""
    read = ("DJANGO_", "DATABASE", "CELERY_", "CACHE_URL", "REDIS_CACHE_URL", "EMAIL_URL")
    return {k: v for k, v in os.environ.items() if not k.startswith(read)}


def _run(args: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _import_settings(**env):
    return _run(
        [
            "-c",
            "import portfolio.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'])",
        ],
        **env,
    )


def _setting(name: str, **env) -> str:
    result = _run(["-c", f"import portfolio.settings as s; print(repr(s.{name}))"], **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_it_refuses_to_start_without_a_secret_key_outside_local_runs():
    result = _import_settings()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_and_sqlite_is_the_local_default():
    result = _import_settings(DJANGO_LOCAL_DEV="1")
    assert result.stdout.split() == ["False", "django.db.backends.sqlite3"]


def test_it_reads_the_database_from_database_url():
    result = _import_settings(
        DJANGO_LOCAL_DEV="1", DATABASE_URL="postgres://u@db.example:5432/site"
    )
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


def test_a_malformed_boolean_fails_at_start():
    result = _import_settings(DJANGO_LOCAL_DEV="1", DJANGO_DEBUG="maybe")
    assert result.returncode != 0


# -- production (DJANGO_LOCAL_DEV off) ----------------------------------------------


def test_it_passes_the_deployment_checklist_in_production():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("variable", ["DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"])
def test_it_refuses_to_fall_back_to_a_local_default_in_production(variable):
    env = {k: v for k, v in PRODUCTION.items() if k != variable}
    result = _run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} is not set" in result.stderr


def test_it_names_every_missing_variable_at_once():
    result = _import_settings(DJANGO_SECRET_KEY=PRODUCTION["DJANGO_SECRET_KEY"])
    assert result.returncode != 0
    assert "DATABASE_URL, CELERY_BROKER_URL, CACHE_URL are not set" in result.stderr


def test_a_redis_cache_url_counts_as_the_cache_in_production():
    env = {k: v for k, v in PRODUCTION.items() if k != "CACHE_URL"}
    result = _import_settings(**env, REDIS_CACHE_URL="redis://redis.example.org:6379/1")
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


def test_it_knows_the_test_client_host_only_in_local_runs():
    assert "testserver" in _setting("ALLOWED_HOSTS", DJANGO_LOCAL_DEV="1")
    production = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_ALLOWED_HOSTS"}
    assert _setting("ALLOWED_HOSTS", **production) == "['127.0.0.1', 'localhost']"


def test_it_redirects_to_https_and_sends_hsts_in_production_only():
    assert _setting("SECURE_SSL_REDIRECT", **PRODUCTION) == "True"
    assert int(_setting("SECURE_HSTS_SECONDS", **PRODUCTION)) >= 30 * 24 * 3600
    assert _setting("SECURE_HSTS_SECONDS", **PRODUCTION, DJANGO_HSTS_SECONDS="600") == "600"
    assert _setting("SECURE_SSL_REDIRECT", DJANGO_LOCAL_DEV="1") == "False"
    assert _setting("SECURE_HSTS_SECONDS", DJANGO_LOCAL_DEV="1") == "0"


def test_it_trusts_the_proxy_header_only_when_told_it_is_behind_a_tls_proxy():
    code = "import portfolio.settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    alone = _run(["-c", code], **PRODUCTION)
    behind = _run(["-c", code], **PRODUCTION, DJANGO_BEHIND_TLS_PROXY="1")
    assert alone.stdout.strip() == "None"
    assert behind.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_it_reads_mail_from_email_url_and_offers_password_reset_only_then():
    assert _setting("PASSWORD_RESET_BY_MAIL", **PRODUCTION) == "False"
    env = {**PRODUCTION, "EMAIL_URL": "smtp+tls://site:secret@mail.example.org:587"}
    assert _setting("PASSWORD_RESET_BY_MAIL", **env) == "True"
    assert _setting("EMAIL_HOST", **env) == "'mail.example.org'"
    assert _setting("EMAIL_USE_TLS", **env) == "True"
