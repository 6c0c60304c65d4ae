import os
import subprocess
import sys

from tests.conftest import REPO


def _import_settings(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import portfolio.settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'])",
        ],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


def test_it_refuses_to_start_without_a_secret_key_outside_local_runs():
    result = _import_settings()
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_and_sqlite_is_the_default():
    result = _import_settings(DJANGO_SECRET_KEY="x" * 50)
    assert result.stdout.split() == ["False", "django.db.backends.sqlite3"]


def test_it_reads_the_database_from_database_url():
    result = _import_settings(
        DJANGO_LOCAL_DEV="1", DATABASE_URL="postgres://u@db.example:5432/site"
    )
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


def test_a_malformed_boolean_fails_at_start():
    result = _import_settings(DJANGO_LOCAL_DEV="1", DJANGO_DEBUG="maybe")
    assert result.returncode != 0
