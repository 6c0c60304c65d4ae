import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from classifiers import services

logger = logging.getLogger(__name__)


@shared_task(name="classifiers.run_prediction", acks_late=True, reject_on_worker_lost=True)
def run_prediction(prediction_id: str) -> None:
    """Take an id, never an object: the row is the source of truth."""
    try:
        services.prediction_run(prediction_id=prediction_id)
    except SoftTimeLimitExceeded:
        services.prediction_fail(prediction_id=prediction_id, reason="The model took too long.")
    except Exception as exc:
        logger.exception("prediction %s failed", prediction_id)
        services.prediction_fail(
            prediction_id=prediction_id, reason=f"The model could not process this image ({exc})."
        )


@worker_process_init.connect
def warm_up_promoted_models(**kwargs) -> None:
    """Load every promoted model as a worker process starts, so the first
    visitor's click does not pay for importing TensorFlow and reading weights."""
    try:
        services.models_warm_up()
    except Exception:  # a cold start is slower, never fatal
        logger.exception("model warm-up failed; models will load on first use")


@shared_task(name="classifiers.embed_gallery_photo", acks_late=True, reject_on_worker_lost=True)
def embed_gallery_photo(photo_id: int) -> None:
    """Embed a new gallery photo's face for every served look-alike version.

    Idempotent (one row per photo and version, updated in place), so a
    redelivered task only repeats the same work.
    """
    from classifiers import services_gallery

    services_gallery.gallery_photo_embed_all(photo_id=photo_id)


@shared_task(
    name="classifiers.validate_model_version",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=2000,  # services_versions.VALIDATION_TIME_LIMIT
)
def validate_model_version(version_id: int) -> None:
    """Open, check and measure an uploaded version, away from the web process."""
    from classifiers import services_versions

    services_versions.model_version_validate(version_id=version_id)


@shared_task(name="classifiers.embed_gallery_and_promote", acks_late=True, time_limit=3600)
def embed_gallery_and_promote(version_id: int, actor_id: int | None, reason: str) -> None:
    from classifiers import services_versions

    services_versions.gallery_embed_then_promote(
        version_id=version_id, actor_id=actor_id, reason=reason
    )


@shared_task(name="classifiers.run_comparison", acks_late=True, time_limit=3600)
def run_comparison(comparison_id: int) -> None:
    from classifiers import services_versions

    services_versions.comparison_run(comparison_id=comparison_id)
