"""Is this site ready to take uploads? The readiness checks, and the stamp a
worker leaves each time it finishes a task.

Readiness (``/health/ready``) asks what an upload needs: the database, the
broker, and a worker that answered recently. The worker's answer is a stamp in
the shared cache (Redis in production, a table of the database in local runs),
written after each task a worker finishes, at most every
``WORKER_STAMP_EVERY_SECONDS`` per process. Beat sends a sweep every
PREDICTION_SWEEP_SECONDS, which every worker takes, so an idle site's workers
stamp too; a site whose beat is down still stamps with each prediction.

Liveness (``/health/live``) asks only whether the process answers: it touches
nothing, so a slow database never gets a healthy web process restarted.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

WORKER_SEEN_KEY = "portfolio:worker-seen"
WORKER_STAMP_EVERY_SECONDS = 2.0
_last_stamp = 0.0


def worker_seen() -> None:
    """A worker process finished a task: it takes work, reaches the database
    and the broker. Never fails the task it follows."""
    global _last_stamp
    now = time.time()
    if now - _last_stamp < WORKER_STAMP_EVERY_SECONDS:
        return
    from django.conf import settings
    from django.core.cache import cache

    try:
        cache.set(
            WORKER_SEEN_KEY,
            {"at": now, "host": socket.gethostname()},
            timeout=max(3600, 2 * settings.READINESS_WORKER_SECONDS),
        )
        _last_stamp = now
    except Exception:  # the cache is down: readiness will say so
        logger.warning("could not stamp the worker as seen", exc_info=True)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    figures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"ok": self.ok, **({"detail": self.detail} if self.detail else {}), **self.figures}


def check_database() -> Check:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        # The class, never the text: it may name hosts and users.
        return Check("database", False, f"cannot query the database ({type(exc).__name__})")
    return Check("database", True)


def check_broker() -> Check:
    """One connection attempt, no retry (kombu's default would wait and retry
    for seconds). Redis answers its PING as the channel opens."""
    from celery import current_app  # the site's app (portfolio/__init__.py makes it)
    from django.conf import settings

    timeout = settings.READINESS_TIMEOUT_SECONDS
    try:
        with current_app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=0)
    except Exception as exc:
        return Check("broker", False, f"cannot reach the broker ({type(exc).__name__})")
    return Check("broker", True)


def check_worker() -> Check:
    from django.conf import settings
    from django.core.cache import cache

    limit = settings.READINESS_WORKER_SECONDS
    try:
        seen = cache.get(WORKER_SEEN_KEY)
    except Exception as exc:
        return Check("worker", False, f"cannot read the shared cache ({type(exc).__name__})")
    if not seen:
        return Check("worker", False, f"no worker has finished a task in the last {limit:g} s")
    ago = max(0.0, time.time() - float(seen["at"]))
    figures = {"seen_seconds_ago": round(ago, 1), "host": seen.get("host", "")}
    if ago > limit:
        return Check(
            "worker",
            False,
            f"no worker has finished a task in the last {limit:g} s "
            f"(the last one {ago:.0f} s ago); is a worker running, and beat?",
            figures,
        )
    return Check("worker", True, figures=figures)


def readiness() -> list[Check]:
    return [check_database(), check_broker(), check_worker()]
