"""Build the gallery that ships with the site from ../shared/data/celebrities-lfw.

    .venv/bin/python manage.py build_gallery [SOURCE] [--out FOLDER] [--jobs 2]

Every photo goes through the look-alike pipeline's own detection, alignment
and embedding with the served network (the shipped dlib ResNet); photos
where no face is found are left out. Writes classifiers/gallery/data/lfw/
(see classifiers/gallery/shipped.py). Run it again after changing the
network: setup_gallery refuses embeddings made with another one.
"""

from __future__ import annotations

import csv
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from classifiers.catalog import DEMOS, version_spec
from classifiers.gallery import shipped
from classifiers.inference.runtime import file_sha256

_model = None


def _network_path() -> Path:
    from classifiers.inference.faces import package_model_path

    entry = next(d for d in DEMOS if d["slug"] == "celebrity-lookalike")
    spec = version_spec(entry["versions"][-1])
    return package_model_path(spec["artifact"])


def _embed(path: str) -> tuple[np.ndarray | None, list[int] | None, bytes | None, list | None]:
    """In a worker process: embed one photo and make its thumbnail."""
    global _model
    from PIL import Image

    from classifiers.inference.faces import (
        embed_largest_face,
        gallery_thumbnail,
        load_face_model,
        to_pixels,
    )

    if _model is None:
        _model = load_face_model(_network_path())
    image = Image.open(path).convert("RGB")
    found = embed_largest_face(_model, to_pixels(image))
    if found.vector is None:
        return None, None, None, None
    thumb, box = gallery_thumbnail(image, found.box)
    return found.vector, found.box, thumb, box


class Command(BaseCommand):
    help = "Build classifiers/gallery/data/lfw from celebrities-lfw (faces, embeddings, manifest)."

    def add_arguments(self, parser):
        parser.add_argument(
            "source", nargs="?", default=str(Path(settings.SHARED_DATA_DIR) / "celebrities-lfw")
        )
        parser.add_argument("--out", default=str(shipped.FOLDER))
        parser.add_argument("--jobs", type=int, default=2, help="processes (one per core)")
        parser.add_argument("--limit", type=int, default=0, help="only the first N photos")

    def handle(self, *args, source: str, out: str, jobs: int, limit: int, **options):
        folder = Path(source)
        labels = folder / "labels.csv"
        if not labels.exists():
            raise CommandError(f"{labels} not found: the gallery is built from celebrities-lfw")
        with labels.open() as f:
            rows = list(csv.DictReader(f))
        if limit:
            rows = rows[:limit]
        network = _network_path()
        started = time.monotonic()
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(_embed, [str(folder / r["path"]) for r in rows], chunksize=16))
        photos, thumbnails, vectors, seen = [], [], [], {}
        for row, (vector, _box, thumb, box) in zip(rows, results, strict=True):
            if vector is None:
                self.stderr.write(f"no face found: {row['path']} (left out)")
                continue
            slug = slugify(row["identity"]) or "person"
            seen[slug] = seen.get(slug, 0) + 1
            entry = f"{slug}/{seen[slug]}.jpg"
            photos.append(shipped.ShippedPhoto(row["identity"], entry, box, row["path"]))
            thumbnails.append(thumb)
            vectors.append(vector)
        shipped.write(
            Path(out),
            network_file=network.name,
            network_sha256=file_sha256(network),
            photos=photos,
            thumbnails=thumbnails,
            embeddings=np.stack(vectors),
        )
        size = sum(p.stat().st_size for p in Path(out).iterdir()) / 1e6
        people = len({p.person for p in photos})
        self.stdout.write(
            f"{len(photos)} photos of {people} people ({len(rows) - len(photos)} without a face) "
            f"in {Path(out)}: {size:.1f} MB, {time.monotonic() - started:.0f} s"
        )
