"""gunicorn's settings in the image: `gunicorn -c deploy/gunicorn.conf.py` (Dockerfile).

Anything here can be overridden without a rebuild by gunicorn's own
GUNICORN_CMD_ARGS (e.g. "--workers 4"); WEB_CONCURRENCY and GUNICORN_THREADS
size the web process. Logs follow LOG_FORMAT as the site's do: JSON lines in
production (portfolio/logs.py), the access log included.
"""

import os

bind = ["0.0.0.0:8000"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads beyond the CPU work: long-polled status requests (ANSWER_WAITERS per
# process, fewer than these) only wait. As the Makefile's run (README: Throughput).
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# The request line and headers only: bodies are capped by URL in
# portfolio/middleware.py, which knows which page may take a model file.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190
# A model upload over a slow link takes longer than gunicorn's default 30 s.
timeout = 120
# In memory, not on the container's disk (a slow overlay filesystem stalls the
# heartbeat file and gets healthy workers killed).
# gunicorn's own advice for containers; a file of its own there, not shared data.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
accesslog = "-"
errorlog = "-"

if os.environ.get("LOG_FORMAT", "json").strip().lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portfolio.logs.json_formatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
