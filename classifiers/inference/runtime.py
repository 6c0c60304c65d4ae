"""Model loading for worker processes: lazily, safely, once per version.

Nothing here imports TensorFlow at module import; the first call to
``get_model`` does, inside the worker. Models are cached per process keyed by
the version's id and sha256, so a newly promoted version is picked up by the
next task without a restart while a running task keeps the one it started on.
Where the artifact comes from (local disk or object storage) is the caller's
business: it passes a function that returns a local path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_models: OrderedDict[Hashable, Any] = OrderedDict()


def configure_tensorflow() -> None:
    """Quiet TensorFlow's start-up chatter; called before its first import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def load_keras_model(path: Path):
    """Load a .keras file refusing any code it may carry (Lambda, custom objects)."""
    configure_tensorflow()
    import keras

    return keras.saving.load_model(path, compile=False, safe_mode=True)


def get_model(
    key: Hashable,
    *,
    locate: Callable[[], Path],
    loader: Callable[[Path], Any] = load_keras_model,
    cache_size: int = 4,
) -> Any:
    """The loaded model under ``key`` (a version's id and sha256), from this
    process's cache when there (at most ``cache_size`` models); ``locate``
    gives the artifact's local path."""
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    path = locate()
    logger.info("loading model %s from %s", key, path)
    model = loader(path)
    with _lock:
        _models[key] = model
        while len(_models) > cache_size:
            _models.popitem(last=False)
    return model


def clear_cache() -> None:
    with _lock:
        _models.clear()


def file_sha256(source: Path | str | IO[bytes]) -> str:
    """The sha256 of a file at a path, or of an open file read from its start."""
    if isinstance(source, str | Path):
        with open(source, "rb") as f:
            return file_sha256(f)
    source.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(1 << 20), b""):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()
