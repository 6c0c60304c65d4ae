import io

import pytest
from PIL import Image

from classifiers.inference.images import STORED_MAX_SIDE, ImageRejected, decode_upload
from tests.conftest import example_bytes, jpeg_bytes

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def test_it_accepts_a_jpeg_and_re_encodes_it():
    decoded = decode_upload(example_bytes("cat.jpg"), **LIMITS)
    assert decoded.image.mode == "RGB"
    assert Image.open(io.BytesIO(decoded.jpeg)).format == "JPEG"
    assert len(decoded.sha256) == 64


def test_it_rejects_an_empty_file():
    with pytest.raises(ImageRejected, match="empty"):
        decode_upload(b"", **LIMITS)


def test_it_rejects_a_text_file_named_jpg():
    with pytest.raises(ImageRejected, match="not an image"):
        decode_upload(b"hello, I am not a photo\n" * 10, **LIMITS)


def test_it_rejects_a_truncated_jpeg():
    data = example_bytes("cat.jpg")
    with pytest.raises(ImageRejected, match="damaged or incomplete"):
        decode_upload(data[: len(data) // 2], **LIMITS)


def test_it_rejects_a_file_over_the_byte_limit():
    with pytest.raises(ImageRejected, match="larger than"):
        decode_upload(jpeg_bytes(), max_bytes=100, max_pixels=40_000_000)


def test_it_rejects_too_many_pixels_before_decoding():
    with pytest.raises(ImageRejected, match="megapixels"):
        decode_upload(jpeg_bytes(size=(4000, 3000)), max_bytes=10**8, max_pixels=1_000_000)


def test_it_rejects_a_decompression_bomb():
    # A 20000x20000 PNG of one colour is a few KB on disk and 1.2 GB in memory.
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG")
    with pytest.raises(ImageRejected):
        decode_upload(buffer.getvalue(), max_bytes=10**8, max_pixels=10**10)


def test_it_refuses_formats_that_are_not_photos():
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="TIFF")
    with pytest.raises(ImageRejected, match="TIFF files are not accepted"):
        decode_upload(buffer.getvalue(), **LIMITS)


def test_it_applies_the_exif_rotation():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": a portrait photo stored landscape
    decoded = decode_upload(jpeg_bytes(size=(80, 40), exif=exif.tobytes()), **LIMITS)
    assert decoded.image.size == (40, 80)
    assert not Image.open(io.BytesIO(decoded.jpeg)).getexif()


def test_it_flattens_transparency_onto_white():
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buffer, format="PNG")
    decoded = decode_upload(buffer.getvalue(), **LIMITS)
    assert decoded.image.getpixel((4, 4)) == (255, 255, 255)


def test_it_downscales_what_it_stores():
    decoded = decode_upload(jpeg_bytes(size=(3000, 1500)), **LIMITS)
    assert max(decoded.image.size) == STORED_MAX_SIDE
    assert decoded.original_size == (3000, 1500)
