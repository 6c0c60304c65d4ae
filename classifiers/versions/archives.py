"""Evaluation sets: zips of labelled photos, one folder per answer.

Read twice: when staff upload one (every entry checked before it is stored)
and when a worker measures a version on it. Both read entries through here.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO

from classifiers.inference.evaluation import is_target
from classifiers.inference.pipelines import LabelledPhoto
from classifiers.inference.refusals import Refused
from classifiers.uploads import decode_photo

EVAL_MAX_FILES = 3000
EVAL_MAX_UNCOMPRESSED = 500 * 1024 * 1024


def evaluation_entries(archive: IO[bytes]) -> list[tuple[str, zipfile.ZipInfo]]:
    """(label, entry) for every photo in the zip; refuses what is not a
    labelled set before anything is unpacked."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise Refused("The evaluation set must be a zip file.") from exc
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > EVAL_MAX_FILES:
        raise Refused(f"The zip holds more than {EVAL_MAX_FILES} files.")
    if sum(i.file_size for i in infos) > EVAL_MAX_UNCOMPRESSED:
        raise Refused("The zip unpacks to more than 500 MB.")
    entries = []
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.filename.startswith("/") or ".." in parts:
            raise Refused(f"Refused path in the zip: {info.filename}")
        if parts[-1].startswith(".") or "__MACOSX" in parts:
            continue
        if len(parts) < 2:
            raise Refused(f"{info.filename} is not inside a label folder (use label/photo.jpg).")
        entries.append((parts[-2], info))
    if not entries:
        raise Refused("The zip holds no photos.")
    return entries


def evaluation_label_counts(
    archive: IO[bytes], *, accepts_label: Callable[[str], bool], title: str
) -> dict[str, int]:
    """Check every photo and label of an uploaded set; count photos per label."""
    counts: dict[str, int] = {}
    entries = evaluation_entries(archive)  # refuses a non-zip before it is opened below
    with zipfile.ZipFile(archive) as zf:
        for label, info in entries:
            if is_target(label) and not accepts_label(label):
                raise Refused(
                    f"“{label}” is not an answer of {title}; use one of its answers "
                    "or “neither” for photos it must refuse."
                )
            try:
                decode_photo(zf.read(info))
            except Refused as exc:
                raise Refused(f"{info.filename}: {exc.message}") from exc
            counts[label] = counts.get(label, 0) + 1
    return counts


def evaluation_photos(archive: IO[bytes]) -> list[LabelledPhoto]:
    """Every photo of a stored (already checked) set, decoded."""
    photos = []
    entries = evaluation_entries(archive)
    with zipfile.ZipFile(archive) as zf:
        for label, info in entries:
            decoded = decode_photo(zf.read(info))
            photos.append(LabelledPhoto(label=label, name=info.filename, image=decoded.image))
    return photos
