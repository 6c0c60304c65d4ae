"""Photos people send (uploads, gallery photos, evaluation-set entries),
checked against the site's limits: one place that knows the settings."""

from __future__ import annotations

from typing import IO

from django.conf import settings

from classifiers.inference.images import DecodedImage, decode_upload


def read_limited(file: IO[bytes]) -> bytes:
    """At most one byte past the size limit: enough to refuse a larger file
    without reading all of it (Django streams any size of upload to disk)."""
    return file.read(settings.UPLOAD_MAX_BYTES + 1)


def decode_photo(data: bytes) -> DecodedImage:
    """Check and decode a photo within UPLOAD_MAX_BYTES and UPLOAD_MAX_PIXELS
    (raises ImageRejected, a Refused, with a message for the person)."""
    return decode_upload(
        data, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS
    )
