"""Celery tasks for model versions: take ids, call the worker half.

Task names are fixed (``name=``), so messages queued before a code move are
still understood. Every task acks late and is re-queued if its worker dies;
its claim (in ``worker``) makes a second delivery harmless.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from classifiers.versions import worker
from portfolio.celery import Doorbell

logger = logging.getLogger(__name__)


@shared_task(
    name="classifiers.validate_model_version",
    base=Doorbell,  # the sweep rings again if the broker cannot take it now
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=worker.VALIDATION_TIME_LIMIT - 200,
    time_limit=worker.VALIDATION_TIME_LIMIT,
)
def validate_model_version(version_id: int) -> None:
    """Open, check and measure an uploaded version, away from the web process."""
    worker.model_version_validate(version_id=version_id)


@shared_task(
    name="classifiers.embed_gallery_and_promote",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=worker.EMBED_TIME_LIMIT - 200,
    time_limit=worker.EMBED_TIME_LIMIT,
)
def embed_gallery_and_promote(
    version_id: int,
    actor_id: int | None,
    reason: str,
    action: str = "promote",
    actor_name: str = "",  # absent from messages queued by earlier code
) -> None:
    worker.gallery_embed_then_promote(
        version_id=version_id,
        actor_id=actor_id,
        reason=reason,
        action=action,
        actor_name=actor_name,
    )


@shared_task(
    name="classifiers.run_comparison",
    base=Doorbell,  # the sweep rings again if the broker cannot take it now
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=worker.COMPARISON_TIME_LIMIT - 200,
    time_limit=worker.COMPARISON_TIME_LIMIT,
)
def run_comparison(comparison_id: int) -> None:
    try:
        worker.comparison_run(comparison_id=comparison_id)
    except SoftTimeLimitExceeded:
        worker.comparison_fail(comparison_id=comparison_id, reason="The comparison took too long.")
    except Exception:
        logger.exception("comparison %s failed", comparison_id)
        worker.comparison_fail(
            comparison_id=comparison_id,
            reason="The comparison failed with an unexpected error (logged).",
        )


@shared_task(name="classifiers.sweep_versions", ignore_result=True)
def sweep_versions() -> None:
    """Ring again for validations and comparisons a lost message or a dead worker left."""
    worker.versions_sweep(
        send_validation=validate_model_version.delay, send_comparison=run_comparison.delay
    )


@shared_task(name="classifiers.remove_invalid_version_files", ignore_result=True)
def remove_invalid_version_files() -> None:
    worker.invalid_version_files_remove()
