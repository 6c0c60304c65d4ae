"""Log lines as JSON (production) or text, each carrying the prediction it is about."""

import io
import json
import logging
from logging.config import dictConfig
from unittest import mock

import pytest

from portfolio.logs import logging_config, prediction_context
from tests.conftest import jpeg_bytes
from tests.portfolio.test_settings import _run


@pytest.fixture
def log_lines():
    """Configure a logger as settings.LOGGING would, writing to a buffer."""
    stream = io.StringIO()

    def configure(log_format: str) -> logging.Logger:
        config = logging_config(log_format=log_format, level="INFO")
        config["handlers"]["console"]["stream"] = stream
        config["root"] = {"level": "INFO", "handlers": []}
        config["loggers"] = {"journey": {"handlers": ["console"], "level": "INFO"}}
        dictConfig(config)
        return logging.getLogger("journey")

    yield configure, stream
    logging.getLogger("journey").handlers.clear()


def test_it_writes_one_json_object_per_line_with_the_prediction_id(log_lines):
    configure, stream = log_lines
    logger = configure("json")
    logger.info("prediction %s accepted", "p-1", extra={"prediction_id": "p-1"})
    with prediction_context("p-2"):
        logger.info("loading the model")
        logger.info("a batch neighbour answered", extra={"prediction_id": "p-3"})
    logger.warning("nothing to do with a prediction")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line.get("prediction_id") for line in lines] == ["p-1", "p-2", "p-3", None]
    assert lines[0]["message"] == "prediction p-1 accepted"
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "journey"
    assert {"time", "process"} <= set(lines[0])
    assert lines[3]["level"] == "WARNING"


def test_it_writes_an_exception_inside_its_json_line(log_lines):
    configure, stream = log_lines
    logger = configure("json")
    try:
        raise ValueError("bad weights")
    except ValueError:
        logger.exception("the model could not be loaded")
    (line,) = stream.getvalue().splitlines()
    assert "ValueError: bad weights" in json.loads(line)["exc_info"]


def test_it_writes_text_with_the_prediction_for_a_person(log_lines):
    configure, stream = log_lines
    logger = configure("text")
    with prediction_context("p-9"):
        logger.info("answered done")
    assert stream.getvalue().rstrip().endswith("journey: answered done [prediction p-9]")


def test_production_logs_json_and_local_runs_text():
    code = "import portfolio.settings as s; print(s.LOG_FORMAT)"
    assert _run(["-c", code], DJANGO_LOCAL_DEV="1").stdout.strip() == "text"
    production = _run(
        ["-c", code],
        DJANGO_SECRET_KEY="k" * 50,
        DATABASE_URL="postgres://x@db/x",
        CELERY_BROKER_URL="redis://redis:6379/0",
        CACHE_URL="redis://redis:6379/1",
    )
    assert production.stdout.strip() == "json", production.stderr
    assert _run(["-c", code], DJANGO_LOCAL_DEV="1", LOG_FORMAT="json").stdout.strip() == "json"


def test_an_unknown_log_format_fails_at_start():
    result = _run(["-c", "import portfolio.settings"], DJANGO_LOCAL_DEV="1", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT='xml' is not json or text" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_an_upload_logs_accepted_then_queued_with_its_id(demos, caplog):
    from classifiers.predictions import services

    caplog.set_level(logging.INFO, logger="classifiers.predictions.services")
    with mock.patch.object(services.run_prediction, "delay", return_value=object()):
        prediction = services.prediction_create(demo=demos["cats-vs-dogs"], data=jpeg_bytes())
    journey = [
        (r.getMessage(), r.prediction_id)
        for r in caplog.records
        if r.name == "classifiers.predictions.services"
    ]
    assert journey == [
        (
            f"prediction {prediction.id} accepted: cats-vs-dogs, {len(jpeg_bytes())} bytes",
            str(prediction.id),
        ),
        (f"prediction {prediction.id} queued", str(prediction.id)),
    ]
