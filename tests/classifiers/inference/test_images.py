import io

import pytest
from PIL import Image, UnidentifiedImageError

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


def _psd_header() -> bytes:
    """The start of a Photoshop file: signature, version 1, 3 channels, 8x8, 8-bit RGB."""
    import struct

    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 8, 8, 8, 3) + bytes(64)


@pytest.fixture
def parsers_asked(monkeypatch):
    """Which refused formats' Pillow plugins were handed the upload (none may be)."""
    from PIL import Image

    Image.init()
    asked = []
    for name in ("PSD", "TIFF", "ICO", "JPEG2000"):
        factory, accept = Image.OPEN[name]

        def spy_accept(prefix, _name=name, _accept=accept):
            asked.append(_name)
            return _accept(prefix) if _accept else True

        def spy_factory(fp, filename=None, _name=name, _factory=factory):
            asked.append(_name)
            return _factory(fp, filename)

        monkeypatch.setitem(Image.OPEN, name, (spy_factory, spy_accept))
    return asked


@pytest.mark.parametrize(
    ("data", "name"),
    [(_psd_header(), "PSD"), (None, "TIFF")],
    ids=["psd", "tiff"],
)
def test_it_names_a_refused_format_without_letting_its_parser_read_it(parsers_asked, data, name):
    if data is None:
        buffer = io.BytesIO()
        Image.new("RGB", (10, 10)).save(buffer, format=name)
        data = buffer.getvalue()
    parsers_asked.clear()  # saving may have used the plugin; opening must not
    with pytest.raises(ImageRejected, match=f"{name} files are not accepted") as refused:
        decode_upload(data, **LIMITS)
    assert refused.value.status == 415
    assert parsers_asked == []


class _StoredFile:
    """What the worker passes open_stored: a stored file it can open."""

    def __init__(self, path) -> None:
        self.path = path

    def open(self, mode: str):
        return open(self.path, mode)


def test_it_reads_a_stored_photo_as_a_jpeg_only(tmp_path):
    from classifiers.inference.images import open_stored

    png = tmp_path / "stored.jpg"
    Image.new("RGB", (8, 8)).save(png, format="PNG")  # not what decode_upload stores
    with pytest.raises(UnidentifiedImageError):
        open_stored(_StoredFile(png))
    jpeg = tmp_path / "ok.jpg"
    jpeg.write_bytes(jpeg_bytes())
    assert open_stored(_StoredFile(jpeg)).size == (64, 48)
