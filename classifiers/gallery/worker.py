"""The look-alike gallery as workers see it: embedding photos with a
version's network, and the gallery a pipeline compares faces against.

Runs in workers (and in set-up commands, which must work without one).
"""

from __future__ import annotations

import logging

from PIL import Image

from classifiers.inference.kinds import gallery_kinds
from classifiers.models import Demo, FaceEmbedding, ModelVersion, PersonPhoto
from classifiers.serving import model_for, pipeline_for

logger = logging.getLogger(__name__)


def lookalike_versions() -> list[ModelVersion]:
    """The embedding-model versions the gallery must be embedded for: every
    gallery demo's promoted one (a version's embeddings mean nothing to another)."""
    demos = Demo.objects.filter(kind__in=gallery_kinds()).exclude(promoted_version=None)
    return [demo.promoted_version for demo in demos.select_related("promoted_version")]


def gallery_photo_embed(*, photo: PersonPhoto, version: ModelVersion) -> FaceEmbedding:
    """Find, align and embed the photo's largest face with ``version``'s model.

    Stored even when there is no face (vector null), so the admin can say so;
    one row per photo and version, updated in place, so running it twice is
    harmless.
    """
    with photo.image.open("rb") as f:
        image = Image.open(f)
        image.load()
    pipeline = pipeline_for(version.demo, version, with_gallery=False)
    found = pipeline.predict(model_for(version, pipeline), pipeline.preprocess(image))
    embedding, _ = FaceEmbedding.objects.update_or_create(
        photo=photo,
        model_version=version,
        defaults={
            "vector": None if found.vector is None else [float(x) for x in found.vector],
            "bbox": found.box,
            "faces": found.faces,
        },
    )
    return embedding


def gallery_photo_embed_all(*, photo_id: int, only_missing: bool = False) -> list[FaceEmbedding]:
    """What the worker does with a new photo: embed it for every served version."""
    photo = PersonPhoto.objects.select_related("person").filter(pk=photo_id).first()
    if photo is None:
        logger.info("gallery photo %s was removed before it was embedded", photo_id)
        return []
    versions = lookalike_versions()
    if only_missing:
        done = set(photo.embeddings.values_list("model_version_id", flat=True))
        versions = [v for v in versions if v.pk not in done]
    return [gallery_photo_embed(photo=photo, version=v) for v in versions]


def gallery_missing(*, version: ModelVersion) -> bool:
    """Whether some gallery photo has no embedding for ``version`` yet."""
    return PersonPhoto.objects.exclude(embeddings__model_version=version).exists()


def gallery_embed_missing(*, version: ModelVersion) -> int:
    """Embed every photo that has no embedding for ``version`` yet (a newly
    served version, or photos added while no worker ran); returns how many."""
    missing = PersonPhoto.objects.exclude(embeddings__model_version=version).select_related(
        "person"
    )
    count = 0
    for photo in missing:
        gallery_photo_embed(photo=photo, version=version)
        count += 1
    return count
