"""The look-alike gallery that ships with the site: about 4,000 public figures
from Labeled Faces in the Wild, so a fresh clone knows them all without
../shared and without minutes of embedding at set-up.

Three files under ``classifiers/gallery/data/lfw/``, written by
``manage.py build_gallery`` from ../shared/data/celebrities-lfw:

- ``faces.zip``: one small JPEG per photo (the face with room around it);
- ``embeddings.npy``: float32 (photos, 128), the face embeddings computed with
  the shipped network from the original photos;
- ``manifest.json``: the network's file name and sha256 (embeddings mean
  nothing to another network: a mismatch is refused), the credit, and per
  photo its person, zip entry, face box in the thumbnail and source path.

``setup_gallery`` loads them into the database (gallery.services).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parent / "data" / "lfw"
SOURCE_TAG = "Labeled Faces in the Wild"
CREDIT = (
    "Gallery: public figures from Labeled Faces in the Wild (University of Massachusetts "
    "Amherst; Huang, Ramesh, Berg and Learned-Miller, 2007), news photos from 2002-2004."
)


@dataclass(frozen=True)
class ShippedPhoto:
    person: str
    entry: str  # file name inside faces.zip
    box: list[int]  # the face in the thumbnail
    source: str  # the photo's path in LFW


@dataclass(frozen=True)
class ShippedGallery:
    network_file: str
    network_sha256: str
    credit: str
    photos: list[ShippedPhoto]
    folder: Path

    @property
    def people(self) -> int:
        return len({p.person for p in self.photos})

    def embeddings(self) -> np.ndarray:
        vectors = np.load(self.folder / "embeddings.npy")
        if vectors.shape != (len(self.photos), 128):
            raise ValueError(f"embeddings.npy holds {vectors.shape}, expected {len(self.photos)}")
        return vectors

    def read_photos(self):
        """(ShippedPhoto, JPEG bytes) for every photo, in order."""
        with zipfile.ZipFile(self.folder / "faces.zip") as zf:
            for photo in self.photos:
                yield photo, zf.read(photo.entry)


def read(folder: Path = FOLDER) -> ShippedGallery | None:
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return None
    data = json.loads(manifest.read_text())
    return ShippedGallery(
        network_file=data["network"]["file"],
        network_sha256=data["network"]["sha256"],
        credit=data["credit"],
        photos=[ShippedPhoto(*row) for row in data["photos"]],
        folder=folder,
    )


def write(
    folder: Path,
    *,
    network_file: str,
    network_sha256: str,
    photos: list[ShippedPhoto],
    thumbnails: list[bytes],
    embeddings: np.ndarray,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # JPEGs do not compress further: stored, so reading one is a slice of the file.
    with zipfile.ZipFile(folder / "faces.zip.part", "w", zipfile.ZIP_STORED) as zf:
        for photo, data in zip(photos, thumbnails, strict=True):
            zf.writestr(zipfile.ZipInfo(photo.entry, date_time=(2007, 1, 1, 0, 0, 0)), data)
    np.save(folder / "embeddings.npy", np.asarray(embeddings, dtype=np.float32))
    manifest = {
        "network": {"file": network_file, "sha256": network_sha256},
        "credit": CREDIT,
        "photos": [[p.person, p.entry, p.box, p.source] for p in photos],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, separators=(",", ":")) + "\n")
    (folder / "faces.zip.part").replace(folder / "faces.zip")
