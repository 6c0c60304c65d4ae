"""Where the database meets the ML runtime: a demo's pipeline for a version.

``classifiers.inference`` knows no Django; this module builds its pipeline
classes from the rows (demo config, version labels, spec, calibration),
hands them what they need from the database (the look-alike gallery) and
finds the artifact through the configured storage. Workers, the ``predict``
command, warm-up, validation and comparisons all come through here.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from classifiers.inference import runtime
from classifiers.inference.kinds import pipeline_class
from classifiers.inference.pipelines import Outcome, Pipeline
from classifiers.models import Demo, ModelVersion


def pipeline_for(demo: Demo, version: ModelVersion, *, with_gallery: bool = True) -> Pipeline:
    """``with_gallery=False`` skips reading the gallery (the web process, which
    only asks a pipeline for its answers list, never loads faces)."""
    cls = pipeline_class(demo.kind)
    gallery = None
    if cls.uses_gallery and with_gallery:
        from classifiers.gallery.selectors import gallery_for

        gallery = gallery_for(version)
    return cls(
        config=demo.config,
        labels=version.labels,
        spec=version.input_spec,
        calibration=version.calibration,
        gallery=gallery,
    )


def local_artifact_path(version: ModelVersion) -> Path:
    """A local file for a stored artifact.

    Web and workers may sit on different machines and share only the storage,
    so a storage without local paths is copied into a cache named by content.
    """
    try:
        return Path(default_storage.path(version.artifact.name))
    except NotImplementedError:
        cache = Path(tempfile.gettempdir()) / "portfolio-models"
        cache.mkdir(parents=True, exist_ok=True)
        suffix = Path(version.artifact.name).suffix
        target = cache / f"{version.sha256}{suffix}"
        if not target.exists():
            partial = target.with_suffix(".part")
            with (
                default_storage.open(version.artifact.name, "rb") as src,
                partial.open("wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
            partial.replace(target)
        return target


def model_for(version: ModelVersion, pipeline: Pipeline):
    """The version's loaded model, once per worker process."""
    return runtime.get_model(
        (version.pk, version.sha256),
        locate=lambda: local_artifact_path(version),
        loader=pipeline.load_model,
        cache_size=settings.MODEL_CACHE_SIZE,
    )


def run_pipeline(demo: Demo, version: ModelVersion, image: Image.Image) -> Outcome:
    """Run ``demo`` on one image with ``version``'s model."""
    pipeline = pipeline_for(demo, version)
    return pipeline.run(model_for(version, pipeline), image)
