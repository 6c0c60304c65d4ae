"""Model loading for worker processes: lazily, safely, once per version.

Nothing here imports TensorFlow at module import; the first call to
``get_model`` does, inside the worker. Models are cached per process keyed by
the version's id and sha256, so a newly promoted version is picked up by the
next task without a restart while a running task keeps the one it started on.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_models: OrderedDict[tuple[int, str], Any] = OrderedDict()


def configure_tensorflow() -> None:
    """Quiet TensorFlow's start-up chatter; called before its first import."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def local_artifact_path(artifact_name: str, sha256: str) -> Path:
    """A local file for a stored artifact.

    Web and workers may sit on different machines and share only the storage,
    so a storage without local paths is copied into a cache named by content.
    """
    try:
        return Path(default_storage.path(artifact_name))
    except NotImplementedError:
        cache = Path(tempfile.gettempdir()) / "portfolio-models"
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / f"{sha256}.keras"
        if not target.exists():
            partial = target.with_suffix(".part")
            with default_storage.open(artifact_name, "rb") as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.replace(target)
        return target


def load_keras_model(path: Path):
    """Load a .keras file refusing any code it may carry (Lambda, custom objects)."""
    configure_tensorflow()
    import keras

    return keras.saving.load_model(path, compile=False, safe_mode=True)


def get_model(version, loader=load_keras_model) -> Any:
    """The loaded model for ``version``, from this process's cache when there."""
    key = (version.pk, version.sha256)
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    path = local_artifact_path(version.artifact.name, version.sha256)
    logger.info("loading model %s from %s", version, path)
    model = loader(path)
    with _lock:
        _models[key] = model
        while len(_models) > settings.MODEL_CACHE_SIZE:
            _models.popitem(last=False)
    return model


def clear_cache() -> None:
    with _lock:
        _models.clear()
