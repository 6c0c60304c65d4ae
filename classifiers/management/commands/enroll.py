"""Add a person's photos to a look-alike demo's gallery, embedding them here and now."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classifiers.gallery import services as gallery_services
from classifiers.inference.refusals import Refused
from classifiers.models import Demo, FaceEmbedding, PersonPhoto


class Command(BaseCommand):
    help = "enroll SLUG --name NAME IMAGE...: add photos of NAME to the look-alike gallery."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="a face look-alike demo, e.g. celebrity-lookalike")
        parser.add_argument("images", nargs="+", metavar="IMAGE")
        parser.add_argument("--name", required=True, help="the person's name, as shown")
        parser.add_argument("--source", default="", help="where the photos are from")

    def handle(self, *args, slug: str, images: list[str], name: str, source: str, **options):
        demo = Demo.objects.select_related("promoted_version").filter(slug=slug).first()
        if demo is None or not demo.pipeline_class.uses_gallery:
            raise CommandError(f"{slug!r} is not a face look-alike demo")
        version = demo.promoted_version
        if version is None:
            raise CommandError(f"{slug} serves no model yet: run `python manage.py setup_demos`")
        try:
            person, created = gallery_services.person_get_or_create(name=name)
        except Refused as exc:
            raise CommandError(exc.message) from exc

        enrolled = 0
        for path in images:
            try:
                data = Path(path).read_bytes()
                # Embedded in this process (no worker needed), by the worker's code.
                added = gallery_services.person_photo_add(
                    person=person, data=data, source=source or Path(path).name, embed_now=True
                )
            except OSError as exc:
                self.stderr.write(f"{path}: skipped: {exc.strerror}")
                continue
            except Refused as exc:
                self.stderr.write(f"{path}: skipped: {exc.message}")
                continue
            embedding = _embedding(added.photo, version)
            if embedding is None or not embedding.has_face:
                self.stderr.write(f"{path}: skipped: no face found")
                if added.created:
                    gallery_services.person_photo_delete(photo=added.photo)
                continue
            enrolled += 1
            if not added.created:
                self.stdout.write(f"{path}: already in the gallery for {person.name}")
            elif embedding.faces > 1:
                self.stdout.write(
                    f"{path}: enrolled for {person.name} "
                    f"({embedding.faces} faces found; used the largest)"
                )
            else:
                self.stdout.write(f"{path}: enrolled for {person.name}")

        if enrolled == 0:
            if created:
                gallery_services.person_delete(person=person)
            raise CommandError(f"no photo of {name} was enrolled")
        total = person.photos.filter(
            embeddings__model_version=version, embeddings__vector__isnull=False
        ).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{person.name}: {total} photo{'s' if total != 1 else ''} in the {slug} gallery"
            )
        )


def _embedding(photo: PersonPhoto, version) -> FaceEmbedding | None:
    return FaceEmbedding.objects.filter(photo=photo, model_version=version).first()
