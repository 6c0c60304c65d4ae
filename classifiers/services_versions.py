"""Writes for model versions: upload, validation (in a worker), promotion,
rollback, evaluation sets and comparisons.

An uploaded artifact is never trusted: the web process only stores it and
records its sha256; everything that opens it runs in a worker, loads Keras
files with ``safe_mode=True`` and refuses anything that is not a plain
built-in network of the right shape producing sane probabilities.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import statistics
import time
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from PIL import Image

from classifiers import services
from classifiers.inference.images import ImageRejected, decode_upload, open_stored
from classifiers.inference.preprocessing import validate_spec
from classifiers.models import (
    Comparison,
    ComparisonStatus,
    Demo,
    DemoKind,
    EvaluationSet,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    PredictionStatus,
    Promotion,
)

logger = logging.getLogger(__name__)

ARTIFACT_SUFFIXES = {DemoKind.IMAGENET_SUBSET: ".keras", DemoKind.FACE_LOOKALIKE: ".dat"}
EVAL_MAX_FILES = 3000
EVAL_MAX_UNCOMPRESSED = 500 * 1024 * 1024
LATENCY_RUNS = 10
VALIDATION_TIME_LIMIT = 2000  # seconds; the validate task's hard limit


class UploadRefused(ValueError):
    """The upload cannot even be stored; the message is shown to the admin."""


class ValidationFailed(Exception):
    """The version is invalid; the message is the reason shown to the admin."""


# -- upload ---------------------------------------------------------------


def model_version_upload(
    *,
    demo: Demo,
    artifact,
    labels: list[str],
    input_spec: dict,
    name: str,
    notes: str = "",
    user=None,
) -> ModelVersion:
    """Store an uploaded artifact as the demo's next version and queue its validation.

    Only what can be checked without opening the file is checked here; the
    worker decides whether it is a usable model.
    """
    if artifact.size > settings.MODEL_UPLOAD_MAX_BYTES:
        raise UploadRefused(
            f"The file is larger than {settings.MODEL_UPLOAD_MAX_BYTES // (1024 * 1024)} MB."
        )
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise UploadRefused("Labels must be a JSON list of non-empty strings, one per output.")
    if demo.kind == DemoKind.IMAGENET_SUBSET:
        try:
            validate_spec(input_spec)
        except ValueError as exc:
            raise UploadRefused(f"Input spec: {exc}.") from exc
    digest = hashlib.sha256()
    for chunk in artifact.chunks():
        digest.update(chunk)
    sha256 = digest.hexdigest()
    suffix = PurePosixPath(artifact.name).suffix.lower()[:10] or ".bin"
    stored_name = f"model_versions/{sha256}{suffix}"
    from classifiers.tasks import validate_model_version

    with transaction.atomic():
        Demo.objects.select_for_update().get(pk=demo.pk)  # numbers are handed out one at a time
        number = (demo.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion(
            demo=demo,
            number=number,
            name=name or f"Uploaded v{number}",
            sha256=sha256,
            labels=labels,
            input_spec=input_spec,
            notes=notes,
            created_by=user if user is not None and user.is_authenticated else None,
            status=ModelVersionStatus.UPLOADED,
        )
        # Content-addressed and never rewritten: the sha256 always matches the file.
        if default_storage.exists(stored_name):
            version.artifact.name = stored_name
        else:
            artifact.seek(0)
            version.artifact.name = default_storage.save(stored_name, File(artifact))
        version.save()
        transaction.on_commit(lambda: validate_model_version.delay(version.pk))
    return version


# -- validation (worker) ----------------------------------------------------


def model_version_validate(*, version_id: int) -> ModelVersion | None:
    """Claim an uploaded version, validate it and store the verdict."""
    # A version left "validating" past the task's hard limit lost its worker
    # (acks_late redelivers the task): it may be claimed again.
    stale = timezone.now() - timedelta(seconds=VALIDATION_TIME_LIMIT + 60)
    claimable = Q(status=ModelVersionStatus.UPLOADED) | Q(
        status=ModelVersionStatus.VALIDATING, created_at__lt=stale
    )
    claimed = ModelVersion.objects.filter(claimable, pk=version_id).update(
        status=ModelVersionStatus.VALIDATING, status_reason=""
    )
    if not claimed:
        return None
    version = ModelVersion.objects.select_related("demo").get(pk=version_id)
    try:
        report = _validate(version)
    except ValidationFailed as exc:
        _finish_validation(version, ModelVersionStatus.INVALID, str(exc))
    except Exception as exc:  # a crash is a verdict too, never a stuck "validating"
        logger.exception("validation of %s crashed", version)
        _finish_validation(version, ModelVersionStatus.INVALID, f"Validation failed: {exc}")
    else:
        version.metrics = report.metrics
        version.calibration = report.calibration
        _finish_validation(version, ModelVersionStatus.READY, report.summary)
    return version


def _finish_validation(version: ModelVersion, status: str, reason: str) -> None:
    version.status = status
    version.status_reason = reason[:2000]
    version.validated_at = timezone.now()
    version.save(
        update_fields=["status", "status_reason", "validated_at", "metrics", "calibration"]
    )


@dataclass
class ValidationReport:
    metrics: dict
    calibration: dict
    summary: str


def _validate(version: ModelVersion) -> ValidationReport:
    from classifiers.inference.pipelines import pipeline_for
    from classifiers.inference.runtime import local_artifact_path

    demo = version.demo
    suffix = PurePosixPath(version.artifact.name).suffix.lower()
    expected = ARTIFACT_SUFFIXES[demo.kind]
    if suffix != expected:
        raise ValidationFailed(
            f"Only {expected} files are accepted for this demo; a {suffix or 'suffix-less'} "
            "file is refused unopened (.h5 and pickle formats can carry code)."
        )
    path = local_artifact_path(version.artifact.name, version.sha256)
    if _sha256_of(path) != version.sha256:
        raise ValidationFailed("The stored file does not match the uploaded sha256.")
    pipeline = pipeline_for(demo, version)
    if demo.kind == DemoKind.IMAGENET_SUBSET:
        return _validate_classifier(version, pipeline, path)
    return _validate_face_model(version, pipeline, path)


def _sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_keras_safely(pipeline, path):
    if not zipfile.is_zipfile(path):
        raise ValidationFailed("The file is not a valid .keras archive (a .keras file is a zip).")
    try:
        return pipeline.load_model(path)
    except Exception as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise ValidationFailed(
                "Refused: the model contains code (a Lambda layer or another arbitrary "
                "Python function). Only built-in Keras layers are accepted."
            ) from exc
        if "Unknown" in text or "custom" in text.lower() or "Could not locate" in text:
            raise ValidationFailed(
                f"Refused: the model uses a custom object Keras does not know ({text[:300]})."
            ) from exc
        raise ValidationFailed(f"The model could not be loaded: {text[:500]}") from exc


def _validate_classifier(version: ModelVersion, pipeline, path) -> ValidationReport:
    demo = version.demo
    loaded = _load_keras_safely(pipeline, path)
    model = loaded.model
    size = version.input_spec["size"]
    input_shape = tuple(model.inputs[0].shape)
    if len(model.inputs) != 1 or tuple(input_shape[1:]) != (size, size, 3):
        raise ValidationFailed(
            f"The model takes input {input_shape}; the spec says (None, {size}, {size}, 3)."
        )
    output_shape = tuple(model.outputs[0].shape)
    if len(model.outputs) != 1 or tuple(output_shape[1:]) != (len(version.labels),):
        raise ValidationFailed(
            f"The model has output {output_shape} but {len(version.labels)} labels were given."
        )
    needed = max(int(idx.max()) for idx in pipeline.groups.values()) + 1
    if len(version.labels) < needed:
        raise ValidationFailed(
            f"This demo reads ImageNet classes up to {needed - 1}; the model has "
            f"{len(version.labels)} outputs."
        )
    examples = _example_images(demo) or [Image.new("RGB", (size, size), (127, 127, 127))]
    for image in examples:
        p = np.asarray(loaded.predict_on_batch(pipeline.preprocess(image)), dtype=np.float64)
        if not np.all(np.isfinite(p)):
            raise ValidationFailed("The model produced NaN or infinite outputs on an example.")
        if p.min() < -1e-6 or p.max() > 1 + 1e-6 or abs(p.sum() - 1) > 1e-3:
            raise ValidationFailed(
                "The model's outputs are not probabilities (they must be in [0, 1] and sum "
                f"to 1; got a sum of {p.sum():.3f}). End the network with a softmax."
            )
    metrics, calibration, summary = {}, {}, "Loads safely; shapes and example outputs are sane."
    evaluation_set = demo.evaluation_sets.first()
    if evaluation_set is not None:
        metrics, calibration = _evaluate_classifier(pipeline, loaded, evaluation_set)
        summary += f" Fitted and measured on evaluation set “{evaluation_set.name}”."
    else:
        summary += " No evaluation set for this demo yet: accuracy not measured."
    metrics.update(_latency(pipeline, loaded, examples[0]))
    return ValidationReport(metrics=metrics, calibration=calibration, summary=summary)


def _evaluate_classifier(pipeline, loaded, evaluation_set: EvaluationSet) -> tuple[dict, dict]:
    from classifiers.inference import evaluation

    photos = evaluation_set_photos(evaluation_set=evaluation_set)
    batch = np.concatenate([pipeline.preprocess(image) for _, _, image in photos])
    probabilities = np.asarray(loaded.model.predict(batch, batch_size=16, verbose=0))
    truth = [label for label, _, _ in photos]
    fit_idx, test_idx = evaluation.split_for_fitting([name for _, name, _ in photos])
    if not fit_idx or not test_idx:
        fit_idx = test_idx = list(range(len(photos)))  # too small to split: say so below
    calibration = evaluation.fit_calibration(
        pipeline,
        probabilities[fit_idx],
        [truth[i] for i in fit_idx],
        described=f"{len(fit_idx)} photos of evaluation set “{evaluation_set.name}”",
    )
    pipeline.calibration = calibration
    metrics = evaluation.measure(
        pipeline,
        probabilities[test_idx],
        [truth[i] for i in test_idx],
        described=f"the other {len(test_idx)} photos of evaluation set “{evaluation_set.name}”",
    )
    return metrics, calibration


def _validate_face_model(version: ModelVersion, pipeline, path) -> ValidationReport:
    try:
        model = pipeline.load_model(path)
    except Exception as exc:
        raise ValidationFailed(f"The embedding network could not be loaded: {exc}") from exc
    from classifiers.models import PersonPhoto

    vectors = []
    for photo in PersonPhoto.objects.all()[:5]:
        with photo.image.open("rb") as f:
            image = Image.open(io.BytesIO(f.read())).convert("RGB")
        found = pipeline.predict(model, pipeline.preprocess(image))
        if found.vector is not None:
            vectors.append(np.asarray(found.vector, dtype=np.float64))
    if not vectors:
        raise ValidationFailed("No gallery photo could be embedded to check the network.")
    if not all(np.all(np.isfinite(v)) and v.shape == vectors[0].shape for v in vectors):
        raise ValidationFailed("The network produced NaN or inconsistent embeddings.")
    blank = Image.new("RGB", (160, 160), (127, 127, 127))
    return ValidationReport(
        metrics=_latency(pipeline, model, blank),
        calibration={},
        summary=f"Loads; embeds gallery faces as {vectors[0].shape[0]}-d vectors.",
    )


def _latency(pipeline, model, image: Image.Image) -> dict:
    pipeline_run = getattr(pipeline, "run", None)
    for _ in range(2):
        pipeline_run(model, image)
    timings = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        pipeline_run(model, image)
        timings.append((time.perf_counter() - started) * 1000)
    return {"latency_p50_ms": round(statistics.median(timings), 1)}


def _example_images(demo: Demo) -> list[Image.Image]:
    from django.contrib.staticfiles import finders

    images = []
    for example in demo.examples:
        found = finders.find(example["image"])
        if found:
            images.append(Image.open(found).convert("RGB"))
    return images


# -- promotion ------------------------------------------------------------


def model_version_request_promotion(
    *, version: ModelVersion, actor=None, reason: str = ""
) -> Promotion | None:
    """Promote now, or, for a face-embedding model whose gallery is not embedded
    yet, queue the re-embedding in a worker and switch when it is complete."""
    if version.status != ModelVersionStatus.READY:
        raise ValueError(f"version {version.number} is {version.status}, not ready")
    if version.demo.kind == DemoKind.FACE_LOOKALIKE and _gallery_missing(version):
        from classifiers.tasks import embed_gallery_and_promote

        actor_id = actor.pk if actor is not None and actor.is_authenticated else None
        transaction.on_commit(lambda: embed_gallery_and_promote.delay(version.pk, actor_id, reason))
        return None
    return services.model_version_promote(version=version, actor=actor, reason=reason)


def _gallery_missing(version: ModelVersion) -> bool:
    from classifiers.models import PersonPhoto

    return PersonPhoto.objects.exclude(embeddings__model_version=version).exists()


def gallery_embed_then_promote(*, version_id: int, actor_id: int | None, reason: str) -> None:
    """Worker side of a look-alike promotion: embed every gallery photo with the
    new network first, so the switch never serves an empty gallery."""
    from django.contrib.auth import get_user_model

    from classifiers.services_gallery import gallery_embed_missing

    version = ModelVersion.objects.select_related("demo").get(pk=version_id)
    gallery_embed_missing(version=version)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    services.model_version_promote(version=version, actor=actor, reason=reason)


def model_version_rollback(*, demo: Demo, actor=None, reason: str = "") -> Promotion:
    """Serve again the version served before the current one."""
    with transaction.atomic():
        # Read what is served now, not what the caller's object remembers.
        current = Demo.objects.select_for_update().get(pk=demo.pk)
        # The promotion that put the served version in place: undoing a rollback
        # is not a rollback, so a second one goes further back, never forward
        # to the version just rolled back from (selectors.demo_rollback_target).
        last = current.promotions.filter(
            to_version=current.promoted_version_id, action=Promotion.Action.PROMOTE
        ).first()
        if last is None or last.from_version is None:
            raise ValueError("There is no earlier version to roll back to.")
        return services.model_version_promote(
            version=last.from_version,
            actor=actor,
            reason=reason or "rollback",
            action=Promotion.Action.ROLLBACK,
        )


# -- evaluation sets ------------------------------------------------------


def evaluation_set_create(*, demo: Demo, archive, name: str, user=None) -> EvaluationSet:
    """Check a zip of labelled photos (one folder per answer) and store it."""
    data = archive.read()
    labels = _evaluation_labels(io.BytesIO(data), demo)
    sha256 = hashlib.sha256(data).hexdigest()
    evaluation_set = EvaluationSet(
        demo=demo, name=name or archive.name, sha256=sha256, label_counts=labels, uploaded_by=user
    )
    evaluation_set.archive.save(f"{sha256}.zip", ContentFile(data), save=False)
    evaluation_set.save()
    return evaluation_set


def _evaluation_entries(archive) -> list[tuple[str, zipfile.ZipInfo]]:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UploadRefused("The evaluation set must be a zip file.") from exc
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > EVAL_MAX_FILES:
        raise UploadRefused(f"The zip holds more than {EVAL_MAX_FILES} files.")
    if sum(i.file_size for i in infos) > EVAL_MAX_UNCOMPRESSED:
        raise UploadRefused("The zip unpacks to more than 500 MB.")
    entries = []
    for info in infos:
        parts = PurePosixPath(info.filename).parts
        if info.filename.startswith("/") or ".." in parts:
            raise UploadRefused(f"Refused path in the zip: {info.filename}")
        if parts[-1].startswith(".") or "__MACOSX" in parts:
            continue
        if len(parts) < 2:
            raise UploadRefused(
                f"{info.filename} is not inside a label folder (use label/photo.jpg)."
            )
        entries.append((parts[-2], info))
    if not entries:
        raise UploadRefused("The zip holds no photos.")
    return entries


def _evaluation_labels(archive, demo: Demo) -> dict[str, int]:
    from classifiers.inference.evaluation import is_target

    known = {label.lower() for label in _answers(demo)}
    counts: dict[str, int] = {}
    entries = _evaluation_entries(archive)  # refuses a non-zip before it is opened below
    with zipfile.ZipFile(archive) as zf:
        for label, info in entries:
            if is_target(label) and known and label.lower() not in known:
                raise UploadRefused(
                    f"“{label}” is not an answer of {demo.title}; use one of its answers "
                    "or “neither” for photos it must refuse."
                )
            try:
                decode_upload(
                    zf.read(info),
                    max_bytes=settings.UPLOAD_MAX_BYTES,
                    max_pixels=settings.UPLOAD_MAX_PIXELS,
                )
            except ImageRejected as exc:
                raise UploadRefused(f"{info.filename}: {exc}") from exc
            counts[label] = counts.get(label, 0) + 1
    return counts


def _answers(demo: Demo) -> list[str]:
    if demo.kind != DemoKind.IMAGENET_SUBSET:
        return []
    if demo.config.get("rank_within"):
        from classifiers.catalog import imagenet_labels

        names = imagenet_labels()
        display = demo.config.get("display_names", {})
        return [
            n
            for lo, hi in demo.config["groups"][demo.config["rank_within"]]
            for i in range(lo, hi + 1)
            for n in (names[i], display.get(names[i], names[i]))
        ]
    return list(demo.config["groups"])


def evaluation_set_photos(*, evaluation_set: EvaluationSet) -> list[tuple[str, str, Image.Image]]:
    """(label, file name, RGB image) for every photo of the set."""
    with evaluation_set.archive.open("rb") as f:
        data = io.BytesIO(f.read())
    photos = []
    with zipfile.ZipFile(data) as zf:
        for label, info in _evaluation_entries(data):
            decoded = decode_upload(zf.read(info), max_bytes=10**9, max_pixels=10**9)
            photos.append((label, info.filename, decoded.image))
    return photos


# -- comparison and re-runs ------------------------------------------------


def comparison_create(*, candidate: ModelVersion, user=None, sample_size: int = 50) -> Comparison:
    baseline = candidate.demo.promoted_version
    if baseline is None or baseline.pk == candidate.pk:
        raise ValueError("Compare a candidate against a different, served version.")
    if candidate.status != ModelVersionStatus.READY:
        raise ValueError(f"version {candidate.number} is {candidate.status}, not ready")
    from classifiers.tasks import run_comparison

    with transaction.atomic():
        comparison = Comparison.objects.create(
            candidate=candidate, baseline=baseline, requested_by=user, sample_size=sample_size
        )
        transaction.on_commit(lambda: run_comparison.delay(comparison.pk))
    return comparison


def comparison_run(*, comparison_id: int) -> None:
    """Worker: both versions over the demo's latest real uploads."""
    from classifiers.inference.pipelines import run_pipeline

    claimed = Comparison.objects.filter(pk=comparison_id, status=ComparisonStatus.QUEUED).update(
        status=ComparisonStatus.RUNNING
    )
    if not claimed:
        return
    comparison = Comparison.objects.select_related("candidate__demo", "baseline").get(
        pk=comparison_id
    )
    demo = comparison.candidate.demo
    recent = Prediction.objects.filter(
        demo=demo, status__in=(PredictionStatus.DONE, PredictionStatus.REJECTED)
    ).order_by("-created_at")[: comparison.sample_size]
    rows = []
    try:
        for prediction in recent:
            image = open_stored(prediction.image)
            answers = {}
            for role, version in (
                ("baseline", comparison.baseline),
                ("candidate", comparison.candidate),
            ):
                outcome = run_pipeline(demo, version, image)
                answers[role] = {
                    "status": outcome.status,
                    "label": outcome.label,
                    "score": outcome.score,
                    "reason": outcome.reason,
                }
            rows.append(
                {
                    "prediction": str(prediction.id),
                    **answers,
                    "agree": (answers["baseline"]["status"], answers["baseline"]["label"])
                    == (answers["candidate"]["status"], answers["candidate"]["label"]),
                }
            )
    except Exception as exc:
        logger.exception("comparison %s failed", comparison_id)
        Comparison.objects.filter(pk=comparison_id).update(
            status=ComparisonStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return
    Comparison.objects.filter(pk=comparison_id).update(
        status=ComparisonStatus.DONE, rows=rows, finished_at=timezone.now()
    )


def prediction_rerun(*, prediction: Prediction, owner=None, visitor_id: str = "") -> Prediction:
    """Queue the same photo again on the demo's currently served version."""
    with prediction.image.open("rb") as f:
        data = f.read()
    # One transaction, so the row is committed with its link and only then sent
    # to a worker (prediction_create's on_commit waits for this block).
    with transaction.atomic():
        rerun = services.prediction_create(
            demo=prediction.demo,
            data=data,
            filename=prediction.original_name,
            owner=owner,
            visitor_id=visitor_id,
        )
        Prediction.objects.filter(pk=rerun.pk).update(rerun_of=prediction)
    rerun.rerun_of = prediction
    return rerun


def labels_from_json(data: bytes) -> list[str]:
    try:
        labels = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UploadRefused(f"The labels file is not valid JSON ({exc}).") from exc
    if not isinstance(labels, list):
        raise UploadRefused("The labels file must hold a JSON list, one label per output.")
    return labels
