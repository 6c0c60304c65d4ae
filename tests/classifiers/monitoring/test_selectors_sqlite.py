"""The suite runs on PostgreSQL, `make run` on SQLite: the queue monitor's
figures are checked on both by running test_selectors.py again on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(connection.vendor == "sqlite", reason="this run is on SQLite already")
def test_the_figures_are_the_same_on_sqlite(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         str(REPO / "tests/classifiers/monitoring/test_selectors.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "skipped" not in result.stdout
