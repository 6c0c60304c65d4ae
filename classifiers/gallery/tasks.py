"""Celery tasks for the look-alike gallery: take ids, call the worker half."""

from __future__ import annotations

from celery import shared_task

from classifiers.gallery import worker


@shared_task(
    name="classifiers.embed_gallery_photo",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=180,
)
def embed_gallery_photo(photo_id: int) -> None:
    """Embed a new gallery photo's face for every served look-alike version.

    Idempotent (one row per photo and version, updated in place), so a
    redelivered task only repeats the same work.
    """
    worker.gallery_photo_embed_all(photo_id=photo_id)
