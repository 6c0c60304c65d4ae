"""Hostile zip archives for the tests, built in memory and small on disk.

Python's zipfile writes only honest archives, so these are assembled by hand:
whatever sizes, checksums and compressed bytes a test asks for. Zero-filled
members inflate about 1000:1; their deflate stream is built from one
compressed MiB repeated (each ends with a full flush, so the blocks are
identical), so a 1 GiB member costs about 1 MB and never a GB of memory.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")


@dataclass
class Member:
    name: str
    stored: bytes  # the bytes in the archive (compressed, for a deflated member)
    size: int  # the size its headers declare, unpacked
    crc: int
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0


def deflated(name: str, data: bytes) -> Member:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    stored = packer.compress(data) + packer.flush()
    return Member(name, stored, len(data), zlib.crc32(data))


def stored(name: str, data: bytes) -> Member:
    return Member(name, data, len(data), zlib.crc32(data), method=zipfile.ZIP_STORED)


@functools.cache
def _zero_block() -> tuple[bytes, bytes]:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    return block, packer.flush()


@functools.cache
def _zeros_crc(mebibytes: int) -> int:
    crc, chunk = 0, bytes(MiB)
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    return crc


def zeros(name: str, size: int) -> Member:
    """A member of ``size`` zero bytes (a whole number of MiB), honest headers."""
    assert size % MiB == 0
    block, end = _zero_block()
    return Member(name, block * (size // MiB) + end, size, _zeros_crc(size // MiB))


def build(*members: Member) -> bytes:
    """A zip of these members, headers saying exactly what each Member says."""
    out = io.BytesIO()
    central = []
    for m in members:
        offset = out.tell()
        name = m.name.encode()
        out.write(
            _LOCAL.pack(
                b"PK\x03\x04",
                20,
                0,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.stored),
                m.size,
                len(name),
                0,
            )  # fmt: skip
        )
        out.write(name)
        out.write(m.stored)
        central.append(
            _CENTRAL.pack(
                b"PK\x01\x02",
                20,
                3,
                20,
                0,
                m.flags,
                m.method,
                0,
                0x21,
                m.crc,
                len(m.stored),
                m.size,
                len(name),
                0,
                0,
                0,
                0,
                0o644 << 16,
                offset,
            )  # fmt: skip
            + name
        )
    start = out.tell()
    for record in central:
        out.write(record)
    size = out.tell() - start
    out.write(_END.pack(b"PK\x05\x06", 0, 0, len(members), len(members), size, start, 0))
    return out.getvalue()


def keras_like(config: Member) -> bytes:
    """A .keras file (metadata, config, weights) whose config.json is ``config``."""
    return build(
        stored("metadata.json", b'{"keras_version": "3.15.1"}'),
        config,
        stored("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(1024)),
    )
