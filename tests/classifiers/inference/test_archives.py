"""Bounded reading of staff-uploaded zips (evaluation sets, .keras files):
no Django, no HTTP; each hostile archive is a few KB or MB, never a GB."""

import io
import zipfile

import pytest

from classifiers.inference.archives import (
    KERAS_LIMITS,
    ArchiveRefused,
    ZipLimits,
    checked_members,
    open_zip,
    read_member,
    verify_members,
)
from tests.classifiers import archive_files as af
from tests.classifiers import model_files

LIMITS = ZipLimits(max_members=5, max_member_bytes=10 * af.MiB, max_total_bytes=20 * af.MiB)


class CountingFile(io.BytesIO):
    """A file that remembers how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def _read_all(data: bytes, limits: ZipLimits = LIMITS) -> dict[str, bytes]:
    fp = io.BytesIO(data)
    with open_zip(fp) as zf:
        infos = checked_members(zf, limits)
    return {info.filename: read_member(fp, info, limits) for info in infos}


def test_it_reads_stored_and_deflated_members():
    photo = bytes(range(256)) * 40
    data = af.build(af.deflated("cat/a.jpg", photo), af.stored("dog/b.jpg", b"woof"))
    assert _read_all(data) == {"cat/a.jpg": photo, "dog/b.jpg": b"woof"}


def test_it_reads_what_python_s_zipfile_writes():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat/a.jpg", b"meow" * 1000)
        zf.writestr("empty/", b"")
        zf.writestr("neither/b.jpg", b"")
    assert _read_all(buffer.getvalue()) == {"cat/a.jpg": b"meow" * 1000, "neither/b.jpg": b""}


def test_it_passes_a_real_keras_file(tmp_path):
    path = model_files.valid(tmp_path / "small.keras")
    with open(path, "rb") as f:
        verify_members(f, KERAS_LIMITS)


def test_it_refuses_a_file_that_is_not_a_zip():
    with pytest.raises(ArchiveRefused, match="not a readable zip"):
        open_zip(io.BytesIO(b"GIF89a, not a zip"))


def test_it_refuses_too_many_members():
    data = af.build(*(af.stored(f"cat/{i}.jpg", b"x") for i in range(6)))
    with pytest.raises(ArchiveRefused, match="more than 5 files"):
        _read_all(data)


def test_it_refuses_a_member_that_declares_more_than_the_cap_before_unpacking_it():
    data = af.build(af.zeros("cat/bomb.jpg", 450 * af.MiB))
    with pytest.raises(ArchiveRefused, match=r"cat/bomb.jpg unpacks to 450 MB; .* at most 10 MB"):
        _read_all(data)


def test_it_refuses_members_that_unpack_to_more_than_the_total_together():
    data = af.build(*(af.stored(f"cat/{i}.jpg", bytes(8 * af.MiB)) for i in range(3)))
    with pytest.raises(ArchiveRefused, match="unpacks to more than 20 MB"):
        _read_all(data)


def test_it_refuses_a_member_compressed_beyond_the_ratio():
    data = af.build(af.zeros("cat/flat.bmp", 8 * af.MiB))  # under the 10 MB cap, ~1000:1
    with pytest.raises(ArchiveRefused, match=r"compressed \d+:1, more than the 100:1"):
        _read_all(data)


def test_it_stops_reading_a_member_that_inflates_past_its_declared_size():
    """The headers say 1000 bytes; the data is 1 GiB of zeros (about 1 MB deflated)."""
    bomb = af.zeros("config.json", af.GiB)
    bomb.size = 1000
    fp = CountingFile(af.build(bomb))
    with open_zip(fp) as zf:
        (info,) = checked_members(zf, KERAS_LIMITS)
    with pytest.raises(ArchiveRefused, match="inflates past the 1000 bytes its header declares"):
        read_member(fp, info, KERAS_LIMITS)
    assert fp.bytes_read < 256 * 1024  # of the ~1 MB stored: refused without reading on


def test_it_refuses_a_member_shorter_than_it_declares():
    short = af.deflated("cat/a.jpg", b"meow" * 100)
    short.size = 1000
    with pytest.raises(ArchiveRefused, match="unpacks to 400 bytes, its header says 1000"):
        _read_all(af.build(short))


def test_it_refuses_corrupt_compressed_data():
    member = af.deflated("cat/a.jpg", b"meow" * 1000)
    member.stored = b"\xff" * len(member.stored)  # an invalid deflate block type
    with pytest.raises(
        ArchiveRefused, match="cat/a.jpg is damaged: its compressed data is corrupt"
    ):
        _read_all(af.build(member))


def test_it_refuses_a_checksum_mismatch():
    member = af.deflated("cat/a.jpg", b"meow" * 1000)
    member.crc ^= 1
    with pytest.raises(ArchiveRefused, match=r"checksum \(CRC\) does not match"):
        _read_all(af.build(member))


def test_it_refuses_a_member_cut_short():
    member = af.deflated("cat/a.jpg", bytes(range(256)) * 100)
    member.stored = member.stored[: len(member.stored) // 2]  # an upload that stopped halfway
    with pytest.raises(
        ArchiveRefused, match="cat/a.jpg is damaged: its compressed data is cut short"
    ):
        _read_all(af.build(member))


def test_it_refuses_encrypted_members_and_other_compression_methods():
    encrypted = af.stored("cat/a.jpg", b"x")
    encrypted.flags = 0x1
    with pytest.raises(ArchiveRefused, match="encrypted"):
        _read_all(af.build(encrypted))
    bzip2 = af.stored("cat/a.jpg", b"x")
    bzip2.method = zipfile.ZIP_BZIP2
    with pytest.raises(ArchiveRefused, match="only stored or deflated"):
        _read_all(af.build(bzip2))


def test_it_refuses_a_keras_config_of_a_gigabyte_before_unpacking_it():
    data = af.keras_like(af.zeros("config.json", af.GiB))
    with pytest.raises(ArchiveRefused, match=r"config.json unpacks to 1.0 GB; .* at most 16 MB"):
        verify_members(io.BytesIO(data), KERAS_LIMITS)
