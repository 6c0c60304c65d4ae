"""Celery tasks for predictions: take an id, call the worker half.

Task names are fixed (``name=``), so messages queued before a code move are
still understood.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from classifiers.inference.refusals import Refused
from classifiers.predictions import worker

logger = logging.getLogger(__name__)


@shared_task(name="classifiers.run_prediction", acks_late=True, reject_on_worker_lost=True)
def run_prediction(prediction_id: str) -> None:
    """Take an id, never an object: the row is the source of truth."""
    try:
        worker.prediction_run(prediction_id=prediction_id)
    except SoftTimeLimitExceeded:
        worker.prediction_fail(prediction_id=prediction_id, reason="The model took too long.")
    except Refused as exc:
        worker.prediction_fail(prediction_id=prediction_id, reason=exc.message)
    except Exception:
        logger.exception("prediction %s failed", prediction_id)
        worker.prediction_fail(
            prediction_id=prediction_id,
            reason="The model could not process this image; the error has been logged.",
        )


@worker_process_init.connect
def warm_up_promoted_models(**kwargs) -> None:
    """Load every promoted model as a worker process starts, so the first
    visitor's click does not pay for importing TensorFlow and reading weights."""
    try:
        worker.models_warm_up()
    except Exception:  # a cold start is slower, never fatal
        logger.exception("model warm-up failed; models will load on first use")
