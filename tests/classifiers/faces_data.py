"""Real face photos for the look-alike tests, from settings.SHARED_DATA_DIR (optional).

Tests that need them skip with a reason where the folder is absent; the rest
use the shipped example photos (a fox squirrel: a photo with no face).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import EXAMPLES

SHARED = Path(settings.SHARED_DATA_DIR)
LFW = SHARED / "faces-lfw10"
KNN = SHARED / "faces-knn"
NO_FACE_PHOTO = EXAMPLES / "fox-squirrel.jpg"

needs_lfw = pytest.mark.skipif(
    not (LFW / "labels.csv").exists(),
    reason=f"real face photos not found at {LFW} (settings.SHARED_DATA_DIR is optional)",
)
needs_knn = pytest.mark.skipif(
    not (KNN / "labels.csv").exists(),
    reason=f"photos with two people not found at {KNN} (settings.SHARED_DATA_DIR is optional)",
)


def lfw_photos() -> dict[str, list[Path]]:
    """Person -> their photos, in labels.csv order."""
    photos: dict[str, list[Path]] = defaultdict(list)
    with (LFW / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            photos[row["identity"]].append(LFW / row["path"])
    return dict(photos)


def knn_photo(identity: str) -> Path:
    with (KNN / "labels.csv").open() as f:
        return next(KNN / r["path"] for r in csv.DictReader(f) if r["identity"] == identity)
