"""Writes to the look-alike gallery: people, their photos, the photos' face embeddings.

A photo is stored by whoever adds it (the admin in the web process, or a
command); its embedding is computed where the model lives: by a worker
(``classifiers.tasks.embed_gallery_photo``), or in-process by ``enroll`` and
``setup_gallery``, which must work without one. Both run
``gallery_photo_embed``, the same detection and embedding code as a
visitor's photo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.text import slugify
from PIL import Image

from classifiers.inference.images import decode_upload
from classifiers.models import (
    Demo,
    DemoKind,
    FaceEmbedding,
    ModelVersion,
    Person,
    PersonPhoto,
)

logger = logging.getLogger(__name__)


class GalleryNotServed(ValueError):
    """No look-alike demo serves an embedding model yet, so nothing can be embedded."""


@dataclass(frozen=True)
class PhotoAdded:
    photo: PersonPhoto
    created: bool  # False: this person already had this very photo


def lookalike_versions() -> list[ModelVersion]:
    """The embedding-model versions the gallery must be embedded for: every
    look-alike demo's promoted one (a version's embeddings mean nothing to another)."""
    demos = Demo.objects.filter(kind=DemoKind.FACE_LOOKALIKE).exclude(promoted_version=None)
    return [demo.promoted_version for demo in demos.select_related("promoted_version")]


def person_get_or_create(*, name: str) -> tuple[Person, bool]:
    name = " ".join(name.split())
    if not name:
        raise ValueError("A person needs a name.")
    person = Person.objects.filter(name__iexact=name).first()
    if person is not None:
        return person, False
    base = slugify(name)[:120] or "person"
    slug, n = base, 1
    while Person.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return Person.objects.create(name=name, slug=slug), True


def person_photo_add(
    *, person: Person, data: bytes, source: str = "", embed_now: bool = False
) -> PhotoAdded:
    """Check and store a photo of ``person``, then have its face embedded.

    The photo goes through the same checks as an upload (format, size, EXIF
    rotation, re-encoding; raises ImageRejected). Its embedding is computed by
    a worker after commit, or here and now with ``embed_now`` (commands that
    must work without a worker). The same photo of the same person is stored
    once.
    """
    decoded = decode_upload(
        data, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS
    )
    existing = PersonPhoto.objects.filter(person=person, image_sha256=decoded.sha256).first()
    if existing is not None:
        if embed_now:  # it may have been added while no worker ran
            gallery_photo_embed_all(photo_id=existing.pk, only_missing=True)
        return PhotoAdded(photo=existing, created=False)
    from classifiers.tasks import embed_gallery_photo

    photo = PersonPhoto(person=person, image_sha256=decoded.sha256, source=source[:255])
    photo.image.save("photo.jpg", ContentFile(decoded.jpeg), save=False)
    try:
        with transaction.atomic():
            photo.save()
            if not embed_now:
                # The worker must never see an id whose row is not committed yet.
                transaction.on_commit(lambda: embed_gallery_photo.delay(photo.pk))
    except IntegrityError:  # the same photo added at the same moment elsewhere
        photo.image.delete(save=False)
        existing = PersonPhoto.objects.get(person=person, image_sha256=decoded.sha256)
        return PhotoAdded(photo=existing, created=False)
    if embed_now:
        gallery_photo_embed_all(photo_id=photo.pk)
    return PhotoAdded(photo=photo, created=True)


def gallery_photo_embed(*, photo: PersonPhoto, version: ModelVersion) -> FaceEmbedding:
    """Find, align and embed the photo's largest face with ``version``'s model.

    Stored even when there is no face (vector null), so the admin can say so;
    one row per photo and version, updated in place, so running it twice is
    harmless.
    """
    from classifiers.inference.faces import FaceLookalikePipeline
    from classifiers.inference.runtime import get_model

    with photo.image.open("rb") as f:
        image = Image.open(f)
        image.load()
    pipeline = FaceLookalikePipeline(version=version, spec=version.input_spec)
    model = get_model(version, loader=pipeline.load_model)
    found = pipeline.predict(model, pipeline.preprocess(image))
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


def person_photo_delete(*, photo: PersonPhoto) -> None:
    """Remove a photo, its file and its embeddings (workers see the change on
    their next look-up: the gallery cache is keyed by what is in the table)."""
    name = photo.image.name
    photo.delete()
    if name:
        transaction.on_commit(lambda: photo.image.storage.delete(name))


@transaction.atomic
def person_delete(*, person: Person) -> None:
    for photo in list(person.photos.all()):
        person_photo_delete(photo=photo)
    person.delete()
