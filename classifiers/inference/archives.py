"""Bounded reading of zip archives that staff upload: evaluation sets and
``.keras`` model files (a ``.keras`` file is a zip).

A zip's headers are written by whoever made it. Nothing here trusts them:

* before anything is unpacked, the central directory is checked: how many
  members, the size each declares, their total, and each member's
  compression ratio (a zero-filled entry deflates about 1000:1, so a few MB
  of zip can declare gigabytes);
* then a member is inflated by this module, in small chunks, with a hard
  cap: a member that inflates past the size it declares (or past the cap)
  is refused at that point, without reading on, and one whose data is
  corrupt or whose checksum does not match is refused too.

Only *stored* and *deflated* members are read: Python's bzip2 and LZMA
readers inflate a whole input chunk at once, with no bound on the output.

Every refusal is an ``ArchiveRefused`` (a ``Refused``, 400) whose message
names the member and never includes a server path. Pure Python: the web
process (evaluation sets) and the worker (``.keras`` files, before Keras
opens them) both use it.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from classifiers.inference.refusals import Refused

MiB = 1024 * 1024
GiB = 1024 * MiB
# Compressed bytes read per step. Deflate expands at most ~1032:1, so one step
# yields at most ~17 MB, and never more than the member's declared size.
CHUNK = 16 * 1024

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ACCEPTED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


class ArchiveRefused(Refused):
    """A zip that is not read: too large, a bomb, corrupt, or of a kind we do not take."""

    code = "bad_archive"
    status = 400


@dataclass(frozen=True)
class ZipLimits:
    max_members: int
    max_member_bytes: int  # one member, inflated
    max_total_bytes: int  # all members, inflated
    # Inflated / stored size of one member. Real photos and Keras files are
    # near 1:1 (Keras stores members uncompressed); JSON deflates ~10:1.
    max_ratio: float = 100.0
    # Members smaller than this may have any ratio: a small file of repeated
    # text is harmless, and the ratio of a few bytes means nothing.
    ratio_floor_bytes: int = MiB
    # Tighter caps for some members by name, e.g. {"config.json": 16 * MiB}.
    member_caps: tuple[tuple[str, int], ...] = ()

    def cap_for(self, name: str) -> int:
        return min([self.max_member_bytes, *(cap for n, cap in self.member_caps if n == name)])


# A .keras file: config.json and metadata.json are parsed whole into memory
# by Keras (the shipped networks' configs are 64 B to 320 KB); the weights
# are at most what a 300 MB upload can hold at a sane ratio.
KERAS_LIMITS = ZipLimits(
    max_members=1000,
    max_member_bytes=GiB,
    max_total_bytes=GiB,
    member_caps=(("config.json", 16 * MiB), ("metadata.json", MiB)),
)


def _size(n: int) -> str:
    if n >= GiB:
        return f"{n / GiB:.1f} GB"
    if n >= MiB:
        return f"{n / MiB:.0f} MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def open_zip(
    archive: IO[bytes], *, refusal: str = "The file is not a readable zip archive."
) -> zipfile.ZipFile:
    """The archive's directory, or ``refusal`` if it is not a readable zip."""
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error) as exc:
        raise ArchiveRefused(refusal) from exc


def checked_members(zf: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """Every file member, after checking what the directory declares (nothing is inflated)."""
    infos = [info for info in zf.infolist() if not info.is_dir()]
    if len(infos) > limits.max_members:
        raise ArchiveRefused(f"The zip holds more than {limits.max_members} files.")
    total = 0
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            raise ArchiveRefused(f"{name} is encrypted; upload an unencrypted zip.")
        if info.compress_type not in _ACCEPTED_METHODS:
            raise ArchiveRefused(
                f"{name} uses a compression method that is not accepted "
                "(only stored or deflated members are read)."
            )
        cap = limits.cap_for(name)
        if info.file_size > cap:
            raise ArchiveRefused(
                f"{name} unpacks to {_size(info.file_size)}; one file may unpack to at most "
                f"{_size(cap)}."
            )
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise ArchiveRefused(f"{name} is damaged: its stored size and its size differ.")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ArchiveRefused(
                f"{name} is compressed {ratio:.0f}:1, more than the {limits.max_ratio:.0f}:1 "
                "allowed: refused unopened, as a decompression bomb."
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveRefused(
                f"The zip unpacks to more than {_size(limits.max_total_bytes)}; refused unopened."
            )
    return infos


def _data_offset(fp: IO[bytes], info: zipfile.ZipInfo) -> int:
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise ArchiveRefused(f"{info.filename} is damaged: its local header is missing.")
    fields = _LOCAL_HEADER.unpack(header)
    name_length, extra_length = fields[-2], fields[-1]
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def iter_member(fp: IO[bytes], info: zipfile.ZipInfo, limits: ZipLimits) -> Iterator[bytes]:
    """The member's inflated bytes, chunk by chunk, never more than it declares.

    ``fp`` is the archive's file (the one ``open_zip`` read); ``info`` must
    come from ``checked_members``. Raises ArchiveRefused on any mismatch.
    """
    name, declared = info.filename, info.file_size
    cap = min(declared, limits.cap_for(name))
    try:
        fp.seek(_data_offset(fp, info))
        left = info.compress_size
        inflater = (
            zlib.decompressobj(-zlib.MAX_WBITS)
            if info.compress_type == zipfile.ZIP_DEFLATED
            else None
        )
        produced, crc = 0, 0
        while left > 0 or (inflater is not None and inflater.unconsumed_tail):
            if inflater is not None and inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            else:
                data = fp.read(min(CHUNK, left))
                if not data:
                    raise ArchiveRefused(f"{name} is damaged: the zip ends inside it.")
                left -= len(data)
            # At most one byte past what may come out: enough to know it lied.
            out = inflater.decompress(data, cap - produced + 1) if inflater else data
            produced += len(out)
            if produced > cap:
                raise ArchiveRefused(
                    f"{name} inflates past the {_size(declared)} its header declares: "
                    "refused without reading on (a decompression bomb or a damaged zip)."
                )
            crc = zlib.crc32(out, crc)
            if out:
                yield out
            if inflater is not None and inflater.eof:
                break
        if inflater is not None:
            if not inflater.eof:
                raise ArchiveRefused(f"{name} is damaged: its compressed data is cut short.")
            if left > 0 or inflater.unused_data:
                raise ArchiveRefused(f"{name} is damaged: data follows its compressed stream.")
    except zlib.error as exc:
        raise ArchiveRefused(f"{name} is damaged: its compressed data is corrupt.") from exc
    except (EOFError, OSError, ValueError, struct.error) as exc:
        # A seek or read outside the file: offsets in the directory that lie.
        raise ArchiveRefused(f"{name} is damaged or cut short.") from exc
    if produced != declared:
        raise ArchiveRefused(
            f"{name} is damaged: it unpacks to {produced} bytes, its header says {declared}."
        )
    if crc != info.CRC:
        raise ArchiveRefused(f"{name} is damaged: its checksum (CRC) does not match.")


def read_member(fp: IO[bytes], info: zipfile.ZipInfo, limits: ZipLimits) -> bytes:
    """One checked member, whole (its size is bounded by ``limits``)."""
    return b"".join(iter_member(fp, info, limits))


def verify_members(fp: IO[bytes], limits: ZipLimits) -> None:
    """Check a whole archive without keeping anything: every declared size,
    then every member inflated and discarded, chunk by chunk."""
    with open_zip(fp) as zf:
        for info in checked_members(zf, limits):
            for _ in iter_member(fp, info, limits):
                pass
