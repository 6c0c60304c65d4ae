"""Where the database meets the ML runtime: a demo's pipeline for a version.

``classifiers.inference`` knows no Django; this module builds its pipeline
classes from the rows (demo config, version labels, spec, calibration),
hands them what they need from the database (the look-alike gallery) and
copies the artifact out of the configured storage. Workers, the ``predict``
command, warm-up, validation and comparisons all come through here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path, PurePosixPath

from django.conf import settings
from PIL import Image

from classifiers.inference import runtime
from classifiers.inference.kinds import pipeline_class
from classifiers.inference.pipelines import Outcome, Pipeline
from classifiers.inference.refusals import Refused
from classifiers.models import Demo, ModelVersion

logger = logging.getLogger(__name__)


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


class ArtifactUnavailable(Refused):
    """A version's artifact is not in the storage, or is not the file its
    sha256 names. The message is for a person: no storage names or paths."""

    code = "artifact_unavailable"
    status = 503


def local_artifact_path(version: ModelVersion) -> Path:
    """A local copy of the version's stored artifact, for Keras and dlib,
    which load only from a file.

    Web and workers may sit on different machines and share only the
    storage, so the artifact is always read through it (never through a path
    the storage may have) into MODEL_CACHE_DIR, named by its sha256 and
    checked against it while it is copied: a copy there is the right file.
    """
    suffix = PurePosixPath(version.artifact.name).suffix
    cache = Path(settings.MODEL_CACHE_DIR)
    target = cache / f"{version.sha256}{suffix}"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # A name of its own per copy: processes fetching the same artifact at
    # once never write into each other's file; the rename is atomic.
    partial = cache / f".{version.sha256}-{uuid.uuid4().hex}.part"
    missing = ArtifactUnavailable(
        f"The model file of {version.demo.title} v{version.number} is missing from storage."
    )
    if not version.artifact.name:
        raise missing
    digest = hashlib.sha256()
    try:
        try:
            source = version.artifact.storage.open(version.artifact.name, "rb")
        except FileNotFoundError as exc:
            raise missing from exc
        with source, partial.open("wb") as copy:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                copy.write(chunk)
        if digest.hexdigest() != version.sha256:
            raise ArtifactUnavailable(
                f"The stored model file of {version.demo.title} v{version.number} does not "
                "match its recorded sha256."
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("copied the artifact of %s from storage into %s", version, target)
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
