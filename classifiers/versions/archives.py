"""Evaluation sets: zips of labelled photos, one folder per answer.

Read twice: when staff upload one (every entry checked before it is stored)
and when a worker measures a version on it. Both read entries through here,
and here only through the bounded reader of ``classifiers.inference.archives``:
what the zip declares is checked before anything is unpacked, and each
photo is inflated with a hard cap, so a bomb or a corrupt entry is a
refusal (400 on the page), never a worker or web process filling its memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings

from classifiers.inference.archives import (
    ZipLimits,
    checked_members,
    open_zip,
    read_member,
)
from classifiers.inference.evaluation import is_target
from classifiers.inference.pipelines import LabelledPhoto
from classifiers.inference.refusals import Refused
from classifiers.uploads import decode_photo

EVAL_MAX_FILES = 3000
EVAL_MAX_UNCOMPRESSED = 500 * 1024 * 1024


def _limits() -> ZipLimits:
    # A photo larger than an upload would be refused by decode_photo anyway:
    # no entry is inflated past that.
    return ZipLimits(
        max_members=EVAL_MAX_FILES,
        max_member_bytes=settings.UPLOAD_MAX_BYTES,
        max_total_bytes=EVAL_MAX_UNCOMPRESSED,
    )


def evaluation_entries(archive: IO[bytes]) -> list[tuple[str, zipfile.ZipInfo]]:
    """(label, entry) for every photo in the zip; refuses what is not a
    labelled set before anything is unpacked."""
    with open_zip(archive, refusal="The evaluation set must be a zip file.") as zf:
        infos = checked_members(zf, _limits())
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
    entries = evaluation_entries(archive)
    for label, _info in entries:  # before anything is inflated
        if is_target(label) and not accepts_label(label):
            raise Refused(
                f"“{label}” is not an answer of {title}; use one of its answers "
                "or “neither” for photos it must refuse."
            )
    limits = _limits()
    counts: dict[str, int] = {}
    for label, info in entries:
        try:
            decode_photo(read_member(archive, info, limits))
        except Refused as exc:
            message = exc.message
            if not message.startswith(info.filename):
                message = f"{info.filename}: {message}"
            raise Refused(message) from exc
        counts[label] = counts.get(label, 0) + 1
    return counts


def evaluation_photos(archive: IO[bytes]) -> list[LabelledPhoto]:
    """Every photo of a stored (already checked) set, decoded."""
    limits = _limits()
    return [
        LabelledPhoto(
            label=label,
            name=info.filename,
            image=decode_photo(read_member(archive, info, limits)).image,
        )
        for label, info in evaluation_entries(archive)
    ]
