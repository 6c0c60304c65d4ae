"""Log lines that say which prediction they are about, as JSON or as text.

A prediction's journey crosses processes: the web process accepts the upload
and queues it, a worker claims it and answers or fails it. Every line of that
journey carries ``prediction_id``, so one search finds them all:

- a line may name it itself (``extra={"prediction_id": ...}``), which wins;
- otherwise the prediction the current code is working for, a context
  variable set around the task that runs it (``portfolio.celery``), so lines
  written by code that never heard of predictions (model loading, Celery's
  own "succeeded" line) carry it too.

``LOG_FORMAT=json`` (production, compose.yaml) writes one JSON object per line
(python-json-logger); ``text`` (local runs) the same fields for a person.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_prediction_id: ContextVar[str | None] = ContextVar("prediction_id", default=None)


@contextmanager
def prediction_context(prediction_id: object) -> Iterator[None]:
    """Lines logged inside are about this prediction (unless they name another)."""
    token = _prediction_id.set(str(prediction_id))
    try:
        yield
    finally:
        _prediction_id.reset(token)


def current_prediction_id() -> str | None:
    return _prediction_id.get()


def set_prediction_id(prediction_id: object | None):
    """For code that cannot wrap a ``with`` around the work (Celery's signals):
    returns the token that ``reset_prediction_id`` takes."""
    return _prediction_id.set(None if prediction_id is None else str(prediction_id))


def reset_prediction_id(token) -> None:
    _prediction_id.reset(token)


class PredictionIdFilter(logging.Filter):
    """Adds ``prediction_id`` (when there is one) and the Celery task a line
    was written in. On the handler, so lines of every logger pass through it."""

    def filter(self, record: logging.LogRecord) -> bool:
        named = getattr(record, "prediction_id", None)
        prediction_id = str(named) if named else current_prediction_id()
        if prediction_id:
            record.prediction_id = prediction_id
        elif hasattr(record, "prediction_id"):
            del record.prediction_id  # an empty extra: say nothing rather than ""
        task = _current_task()
        if task is not None and not hasattr(record, "task_id"):
            record.task_name = task.name
            record.task_id = task.request.id
        return True


def _current_task():
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a requirement
        return None
    task = current_task._get_current_object()
    return task if task is not None and task.request.id else None


JSON_FIELDS = ("asctime", "levelname", "name", "processName", "message")


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, process, message, and
    prediction_id / task_name / task_id / exc_info when they apply."""
    return JsonFormatter(
        JSON_FIELDS,
        rename_fields={
            "asctime": "time",
            "levelname": "level",
            "name": "logger",
            "processName": "process",
        },
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the message, then the prediction it is about."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s %(levelname)s/%(processName)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        prediction_id = getattr(record, "prediction_id", None)
        return f"{line} [prediction {prediction_id}]" if prediction_id else line


def configure(logging_settings: dict) -> None:
    """settings.LOGGING_CONFIG: Django's web processes and Celery's workers and
    beat (portfolio.celery) configure logging through here. Python's warnings
    become log lines too, so that a JSON log holds nothing but JSON."""
    logging.config.dictConfig(logging_settings)
    logging.captureWarnings(True)


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting (dictConfig) for ``json`` or ``text``."""
    if log_format not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT={log_format!r}: use json or text")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"prediction": {"()": "portfolio.logs.PredictionIdFilter"}},
        "formatters": {
            "json": {"()": "portfolio.logs.json_formatter"},
            "text": {"()": "portfolio.logs.TextFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["prediction"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }
