"""Celery tasks for predictions: take an id, call the worker half.

Task names are fixed (``name=``), so messages queued before a code move are
still understood. A message only rings the bell for a row that is already
committed: if it is lost (a dead worker, a broker that forgot it), the sweep
rings again, so sending never refuses an upload (``portfolio.celery.Doorbell``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from billiard.einfo import ExceptionWithTraceback
from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.signals import worker_process_init, worker_ready
from celery.worker.request import Request
from django.utils import timezone

from classifiers.predictions import worker
from portfolio.celery import Doorbell

logger = logging.getLogger(__name__)


class PredictionRequest(Request):
    """How the main worker process handles a prediction's message.

    It is the first to know when the pool process running a prediction dies
    (an out-of-memory kill): it asks for that prediction to be rescued at
    once. The message itself is handed back to the broker
    (reject_on_worker_lost), but its claim would find the row still running.
    """

    def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
        exc = exc_info.exception
        exc = exc.exc if isinstance(exc, ExceptionWithTraceback) else exc  # as Celery unwraps it
        if isinstance(exc, WorkerLostError) and self.args:
            # No database here (the main process forks pool processes): a task does it.
            try:
                rescue_prediction.delay(self.args[0], timezone.now().isoformat())
            except Exception:  # the broker is down: the heartbeat sweep rescues it
                logger.exception("could not ask for prediction %s to be rescued", self.args[0])


class PredictionTask(Doorbell):
    Request = PredictionRequest


@shared_task(
    name="classifiers.run_prediction",
    base=PredictionTask,
    acks_late=True,
    reject_on_worker_lost=True,
)
def run_prediction(prediction_id: str) -> None:
    """Take an id, never an object: the row is the source of truth.

    Failures the user should read are stored on the row by the worker half;
    anything escaping here (the database down while claiming) leaves the row
    for the sweep.
    """
    worker.prediction_run(prediction_id=prediction_id)


@shared_task(name="classifiers.sweep_predictions", ignore_result=True)
def sweep_predictions() -> None:
    """Re-queue predictions whose worker died, ring again for lost messages."""
    worker.predictions_sweep(send=run_prediction.delay)


@shared_task(name="classifiers.rescue_prediction", ignore_result=True)
def rescue_prediction(prediction_id: str, died_at: str) -> None:
    """Queue again (or fail, past its attempts) a prediction whose process died."""
    worker.prediction_worker_lost(
        prediction_id=prediction_id,
        died_at=datetime.fromisoformat(died_at),
        send=run_prediction.delay,
    )


@shared_task(name="classifiers.expire_anonymous_predictions", ignore_result=True)
def expire_anonymous_predictions() -> None:
    worker.predictions_expire_anonymous()


@shared_task(name="classifiers.purge_deleted_predictions", ignore_result=True)
def purge_deleted_predictions() -> None:
    """Predictions deleted from a page whose time for an undo is over."""
    worker.predictions_purge_deleted()


@worker_process_init.connect
def warm_up_promoted_models(**kwargs) -> None:
    """Load every promoted model as a worker process starts, so the first
    visitor's click does not pay for importing TensorFlow and reading weights."""
    try:
        worker.models_warm_up()
    except Exception:  # a cold start is slower, never fatal
        logger.exception("model warm-up failed; models will load on first use")


@worker_ready.connect
def sweep_when_a_worker_starts(**kwargs) -> None:
    """A worker (re)starting after a crash rescues what the crash left at once,
    not only at beat's next tick. Queued, so the sweep runs in a pool process."""
    try:
        sweep_predictions.delay()
    except Exception:  # the broker is down; beat will send the next sweep
        logger.exception("could not queue the start-up sweep")
