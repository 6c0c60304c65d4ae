"""FLAG_RATE: flags per client, read from the environment like the upload rates."""

import os
import subprocess
import sys

from tests.conftest import REPO


def _run(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "FLAG_RATE"}
    return subprocess.run(
        [sys.executable, "-c", "import portfolio.settings as s; print(s.FLAG_RATE)"],
        cwd=REPO,
        env={**clean, "DJANGO_LOCAL_DEV": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_allows_20_flags_an_hour_unless_told_otherwise():
    assert _run().stdout.strip() == "20/hour"
    assert _run(FLAG_RATE="5/minute").stdout.strip() == "5/minute"


def test_a_malformed_flag_rate_fails_at_start():
    result = _run(FLAG_RATE="lots")
    assert result.returncode != 0
    assert "FLAG_RATE='lots' is not a rate like 30/hour" in result.stderr
