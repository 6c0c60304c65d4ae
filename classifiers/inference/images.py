"""Decode and check an uploaded image before anything is stored or queued.

Every upload goes through ``decode_upload``: it must be a real raster image of
an allowed format, within the byte and pixel limits, fully decodable (a
truncated file is refused rather than half-read), rotated upright by its EXIF
tag, and is re-encoded to a plain JPEG so nothing else in the original (EXIF
GPS, ICC tricks, trailing payloads) is kept.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from classifiers.inference.refusals import Refused

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
# What this site stores after re-encoding (and all that open_stored reads).
STORED_FORMAT = "JPEG"

# Other image formats, named by their first bytes alone so the refusal can say
# what was sent without handing the file to that format's parser: Pillow is
# only ever asked to open ALLOWED_FORMATS (its PSD, TIFF, ... plugins have had
# out-of-bounds bugs on crafted files; a refused format's parser never runs).
_OTHER_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"II+\x00", "TIFF"),
    (0, b"MM\x00+", "TIFF"),
    (0, b"8BPS", "PSD"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"icns", "ICNS"),
    (0, b"DDS ", "DDS"),
    (0, b"gimp xcf", "XCF"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xffO\xffQ", "JPEG 2000"),
    (0, b"\x76\x2f\x31\x01", "OpenEXR"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
)
STORED_MAX_SIDE = 1024  # larger than any model input; keeps storage small
JPEG_QUALITY = 90


class ImageRejected(Refused):
    """The upload is not an image we accept; the message is shown to the user."""

    code = "bad_image"


class ImageTooLarge(ImageRejected):
    """Over the byte or pixel limit."""

    code = "too_large"
    status = 413


class ImageFormatRefused(ImageRejected):
    """A real image, of a format we do not take."""

    code = "unsupported_image"
    status = 415


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, upright, at most STORED_MAX_SIDE on its long side
    jpeg: bytes  # what is stored
    sha256: str  # of the bytes as uploaded
    original_size: tuple[int, int]


def decode_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> DecodedImage:
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between max_pixels and 2x; treat it as refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(
                    f"The image is {width}x{height} pixels; the limit is "
                    f"{max_pixels // 1_000_000} megapixels."
                )
            image.load()  # decodes everything: truncated data fails here
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge("The image has too many pixels to process safely.") from exc
    except UnidentifiedImageError as exc:
        other = _other_format(data)
        if other:
            raise ImageFormatRefused(
                f"{other} files are not accepted; upload a JPEG, PNG, WebP, GIF or BMP photo."
            ) from exc
        raise ImageRejected("The file is not an image we can read.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports truncated and corrupt data as OSError/SyntaxError; its
        # text is about its decoder's internals, not for the person.
        raise ImageRejected("The image is damaged or incomplete.") from exc

    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    image.thumbnail((STORED_MAX_SIDE, STORED_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return DecodedImage(
        image=image,
        jpeg=buffer.getvalue(),
        sha256=hashlib.sha256(data).hexdigest(),
        original_size=(width, height),
    )


def open_stored(field_file) -> Image.Image:
    """A photo this site stored after ``decode_upload``: already checked,
    upright and re-encoded, so the worker only decodes it (no second round
    of checks and re-encoding per prediction)."""
    with field_file.open("rb") as f:
        return read_stored(f.read())


def read_stored(data: bytes) -> Image.Image:
    """The bytes ``decode_upload`` stored (its ``jpeg``), as the worker reads them."""
    image = Image.open(io.BytesIO(data), formats=(STORED_FORMAT,))
    image.load()
    return image.convert("RGB")


def _other_format(data: bytes) -> str | None:
    for offset, signature, name in _OTHER_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return name
    return None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
