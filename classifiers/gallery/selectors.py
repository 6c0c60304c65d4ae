"""Reads of the look-alike gallery: the enrolled faces a pipeline compares
an upload against, as the ML runtime's ``Gallery`` (loaded here, passed in)."""

from __future__ import annotations

import threading

import numpy as np
from django.db.models import Count, Max
from django.urls import reverse

from classifiers.inference.faces import Gallery
from classifiers.models import FaceEmbedding, ModelVersion

# Per process: version id -> the gallery as of its revision (see gallery_revision).
_galleries: dict[int, Gallery] = {}
_galleries_lock = threading.Lock()


def gallery_revision(version: ModelVersion) -> tuple:
    """Changes whenever a photo is embedded or removed or a person renamed.

    Embedding ids only grow, so (count, largest id) moves on every addition
    and removal; the latest person update catches renames. One cheap query.
    """
    stats = FaceEmbedding.objects.filter(model_version=version, vector__isnull=False).aggregate(
        n=Count("id"), last=Max("id"), renamed=Max("photo__person__updated_at")
    )
    return (stats["n"], stats["last"], stats["renamed"])


def gallery_for(version: ModelVersion) -> Gallery:
    """The gallery of ``version``'s embeddings, reloaded only after it changed."""
    revision = gallery_revision(version)
    with _galleries_lock:
        cached = _galleries.get(version.pk)
    if cached is not None and cached.revision == revision:
        return cached
    gallery = _load_gallery(version, revision)
    with _galleries_lock:
        _galleries[version.pk] = gallery
    return gallery


def _load_gallery(version: ModelVersion, revision: tuple) -> Gallery:
    rows = list(
        FaceEmbedding.objects.filter(model_version=version, vector__isnull=False)
        .order_by("id")
        .values_list("vector", "photo_id", "photo__person__name")
    )
    return Gallery(
        vectors=np.asarray([r[0] for r in rows], dtype=np.float32).reshape(-1, 128),
        people=[r[2] for r in rows],
        # The face, cropped from the photo, is what is shown next to the answer.
        photo_urls=[reverse("classifiers:gallery-photo", args=[r[1]]) + "?crop=face" for r in rows],
        revision=revision,
    )


def clear_gallery_cache() -> None:
    with _galleries_lock:
        _galleries.clear()
