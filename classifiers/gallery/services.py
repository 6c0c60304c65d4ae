"""Writes to the look-alike gallery: people, their photos, the photos' face embeddings.

A photo is stored by whoever adds it (the admin in the web process, or a
command); its embedding is computed where the model lives: by a worker
(``tasks.embed_gallery_photo``), or in-process by ``enroll`` and
``setup_gallery``, which must work without one. Both run the worker's
``gallery_photo_embed``, the same detection and embedding code as a
visitor's photo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from classifiers.gallery import worker
from classifiers.gallery.shipped import SOURCE_TAG, ShippedGallery
from classifiers.gallery.tasks import embed_gallery_photo
from classifiers.inference.refusals import Refused
from classifiers.models import FaceEmbedding, ModelVersion, Person, PersonPhoto
from classifiers.uploads import decode_photo


@dataclass(frozen=True)
class PhotoAdded:
    photo: PersonPhoto
    created: bool  # False: this person already had this very photo


def person_get_or_create(*, name: str) -> tuple[Person, bool]:
    name = " ".join(name.split())
    if not name:
        raise Refused("A person needs a name.")
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
    decoded = decode_photo(data)
    existing = PersonPhoto.objects.filter(person=person, image_sha256=decoded.sha256).first()
    if existing is not None:
        if embed_now:  # it may have been added while no worker ran
            worker.gallery_photo_embed_all(photo_id=existing.pk, only_missing=True)
        return PhotoAdded(photo=existing, created=False)
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
        worker.gallery_photo_embed_all(photo_id=photo.pk)
    return PhotoAdded(photo=photo, created=True)


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


def shipped_gallery_load(*, gallery: ShippedGallery, versions: list[ModelVersion]) -> int:
    """Load the gallery that ships with the site into the database: its
    people, photos (into the storage) and, for each served look-alike
    version, the embeddings computed at build time. Returns the photos added
    (0 when they are all there already: set-up runs it every time).

    Refused when the embeddings were made with another network than a served
    version's: they would mean nothing to it.
    """
    for version in versions:
        if version.sha256 != gallery.network_sha256:
            raise Refused(
                f"The shipped gallery's embeddings were computed with {gallery.network_file} "
                f"(sha256 {gallery.network_sha256[:12]}…), but {version.demo.title} serves "
                f"v{version.number} (sha256 {version.sha256[:12]}…). Rebuild them with "
                "`manage.py build_gallery`, or let a worker embed the photos after promotion."
            )
    if PersonPhoto.objects.filter(source__startswith=SOURCE_TAG).count() >= len(gallery.photos):
        return 0
    vectors = gallery.embeddings()
    with transaction.atomic():
        people = _people_named({photo.person for photo in gallery.photos})
        known = set(
            PersonPhoto.objects.filter(person__in=people.values()).values_list(
                "person_id", "image_sha256"
            )
        )
        new_photos, new_vectors = [], []
        for (photo, data), vector in zip(gallery.read_photos(), vectors, strict=True):
            person = people[photo.person]
            sha256 = hashlib.sha256(data).hexdigest()
            if (person.pk, sha256) in known:
                continue
            stored = PersonPhoto(
                person=person, image_sha256=sha256, source=f"{SOURCE_TAG}: {photo.source}"[:255]
            )
            stored.image.name = default_storage.save(
                f"gallery/lfw/{photo.entry}", ContentFile(data)
            )
            new_photos.append((stored, photo.box))
            new_vectors.append(vector)
        PersonPhoto.objects.bulk_create([p for p, _ in new_photos], batch_size=1000)
        FaceEmbedding.objects.bulk_create(
            [
                FaceEmbedding(
                    photo=photo,
                    model_version=version,
                    vector=[float(x) for x in vector],
                    bbox=box,
                    faces=1,
                )
                for version in versions
                for (photo, box), vector in zip(new_photos, new_vectors, strict=True)
            ],
            batch_size=1000,
        )
    return len(new_photos)


def _people_named(names: set[str]) -> dict[str, Person]:
    """Every person of ``names``, created at once where missing (unique slugs)."""
    people = {p.name: p for p in Person.objects.filter(name__in=names)}
    taken = set(Person.objects.values_list("slug", flat=True))
    missing = []
    for name in sorted(names - set(people)):
        base = slugify(name)[:120] or "person"
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        missing.append(Person(name=name, slug=slug))
    for person in Person.objects.bulk_create(missing, batch_size=1000):
        people[person.name] = person
    return people
