"""Writes for model versions: upload, promotion and rollback, evaluation
sets, comparisons.

An uploaded artifact is never trusted: the web process only stores it and
records its sha256; everything that opens it runs in a worker
(``worker.model_version_validate``), through its kind's ``validate`` hook.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import zipfile
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from classifiers.gallery.worker import gallery_missing
from classifiers.inference.evaluation import is_target
from classifiers.inference.refusals import Refused
from classifiers.inference.runtime import file_sha256
from classifiers.models import (
    Comparison,
    Demo,
    EvaluationSet,
    ModelVersion,
    ModelVersionStatus,
    Promotion,
)
from classifiers.serving import pipeline_for
from classifiers.uploads import decode_photo
from classifiers.versions import worker
from classifiers.versions.archives import (
    EVAL_MAX_FILES,
    evaluation_entries,
    evaluation_label_counts,
)
from classifiers.versions.tasks import (
    embed_gallery_and_promote,
    run_comparison,
    validate_model_version,
)

logger = logging.getLogger(__name__)

# -- upload -------------------------------------------------------------------


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
        raise Refused(
            f"The file is larger than {settings.MODEL_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
            status=413,
        )
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise Refused("Labels must be a JSON list of non-empty strings, one per output.")
    demo.pipeline_class.check_spec(input_spec)
    sha256 = file_sha256(artifact)
    suffix = PurePosixPath(artifact.name).suffix.lower()[:10] or ".bin"
    stored_name = f"model_versions/{sha256}{suffix}"
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
            created_by_name=_name_of(user),
            status=ModelVersionStatus.UPLOADED,
        )
        version.artifact.name = store_artifact(stored_name, artifact)
        version.save()
        transaction.on_commit(lambda: validate_model_version.delay(version.pk))
    return version


def model_version_revalidate(*, version: ModelVersion, user=None) -> ModelVersion:
    """Validate a version again, e.g. after an evaluation set was added: a
    worker fits and measures it anew and writes a new verdict.

    The served version is refused: its calibration decides the answers the
    public gets, and those change only through a promotion (audited).
    """
    if version.demo.promoted_version_id == version.pk:
        raise Refused(
            f"v{version.number} is served: validating it again would change how it answers "
            "while it is served. Serve another version first, or upload this one again."
        )
    if version.is_removed:
        raise Refused(f"v{version.number} was removed with its file; upload it again.")
    if version.status not in (ModelVersionStatus.READY, ModelVersionStatus.INVALID):
        raise Refused(f"v{version.number} is being validated already.")
    if not version.artifact or not default_storage.exists(version.artifact.name):
        raise Refused(
            f"The file of v{version.number} is gone (the files of invalid versions are "
            "cleared after a while); upload it again."
        )
    with transaction.atomic():
        # The demo's row, as a promotion locks it: no switch to this version meanwhile.
        demo = Demo.objects.select_for_update().get(pk=version.demo_id)
        if demo.promoted_version_id == version.pk:
            raise Refused(f"v{version.number} was promoted meanwhile; nothing changed.")
        # Conditional, so two clicks queue one validation.
        claimed = ModelVersion.objects.filter(
            pk=version.pk, status__in=(ModelVersionStatus.READY, ModelVersionStatus.INVALID)
        ).update(
            status=ModelVersionStatus.UPLOADED,
            status_reason="",
            metrics={},
            calibration={},
            validated_at=timezone.now(),
        )
        if not claimed:
            raise Refused(f"v{version.number} is being validated already.")
        transaction.on_commit(lambda: validate_model_version.delay(version.pk))
    logger.info("%s: validation asked again by %s", version, _name_of(user) or "a command")
    version.refresh_from_db()
    return version


def model_version_remove(*, version: ModelVersion, user=None) -> ModelVersion:
    """Remove an invalid version: its file is deleted (unless a version that is
    not invalid shares it), its row stays as the record of what was uploaded,
    by whom, why it failed and who removed it."""
    if version.status != ModelVersionStatus.INVALID:
        raise Refused(
            f"Only an invalid version can be removed; v{version.number} is {version.status}."
        )
    if version.is_removed:
        raise Refused(f"v{version.number} was removed already.")
    now = timezone.now()
    who = _name_of(user) or "a command"
    record = (
        f"Removed by {who} on {now:%Y-%m-%d %H:%M} UTC; its file was deleted. "
        f"It was invalid: {version.status_reason or 'no reason recorded'}"
    )[:2000]
    name = version.artifact.name
    with transaction.atomic():
        # Every demo's row, as invalid_version_files_remove holds them: an upload
        # of the same bytes (any demo) cannot adopt the file while it goes.
        list(Demo.objects.select_for_update().values_list("pk", flat=True))
        removed = (
            ModelVersion.objects.filter(pk=version.pk, status=ModelVersionStatus.INVALID)
            .exclude(artifact="")
            .update(artifact="", status_reason=record)
        )
        if not removed:
            raise Refused(f"v{version.number} was removed already.")
        shared = (
            ModelVersion.objects.filter(artifact=name)
            .exclude(status=ModelVersionStatus.INVALID)
            .exists()
        )
        if not shared and default_storage.exists(name):
            default_storage.delete(name)
    logger.info("%s removed by %s", version, who)
    version.refresh_from_db()
    return version


def _name_of(user) -> str:
    return user.get_username() if user is not None and user.is_authenticated else ""


def store_artifact(stored_name: str, file) -> str:
    """Content-addressed and never rewritten: the sha256 always matches the file,
    and versions (or demos) sharing a network share one stored file."""
    if default_storage.exists(stored_name):
        return stored_name
    file.seek(0)
    return default_storage.save(stored_name, File(file))


def labels_from_json(data: bytes) -> list[str]:
    try:
        labels = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused("The labels file is not valid JSON.") from exc
    if not isinstance(labels, list):
        raise Refused("The labels file must hold a JSON list, one label per output.")
    return labels


# -- promotion ------------------------------------------------------------------


def model_version_check_promotable(*, version: ModelVersion) -> None:
    """Refuse a version that cannot be served (raises Refused)."""
    if version.status != ModelVersionStatus.READY:
        raise Refused(f"Version {version.number} is {version.display_status}, not ready.")
    if version.demo.promoted_version_id == version.pk:
        raise Refused(f"Version {version.number} is already served.")


def model_version_promote(
    *,
    version: ModelVersion,
    actor=None,
    reason: str = "",
    action: str = Promotion.Action.PROMOTE,
) -> Promotion | None:
    """Serve ``version``: now, or, for a kind that answers from a gallery not
    yet embedded with this network, once a worker has embedded it.

    Every caller (the versions pages, the admin, commands, rollback) comes
    through here, so no path serves a version that cannot answer. Returns
    the audit row, or None when the switch waits for the worker.
    """
    model_version_check_promotable(version=version)
    if version.demo.pipeline_class.uses_gallery and gallery_missing(version=version):
        actor_id = actor.pk if actor is not None and actor.is_authenticated else None
        # The name travels with the task: the audit row keeps it even if the
        # account is deleted while the gallery is being embedded.
        actor_name = _name_of(actor)
        transaction.on_commit(
            lambda: embed_gallery_and_promote.delay(
                version.pk, actor_id, reason, action, actor_name
            )
        )
        return None
    return worker.promotion_apply(version=version, actor=actor, reason=reason, action=action)


def model_version_rollback(*, demo: Demo, actor=None, reason: str = "") -> Promotion | None:
    """Serve again the version served before the current one."""
    # Read what is served now, not what the caller's object remembers.
    current = Demo.objects.get(pk=demo.pk)
    # The promotion that put the served version in place: undoing a rollback
    # is not a rollback, so a second one goes further back, never forward
    # to the version just rolled back from (selectors.demo_rollback_target).
    last = current.promotions.filter(
        to_version=current.promoted_version_id, action=Promotion.Action.PROMOTE
    ).first()
    if last is None or last.from_version is None:
        raise Refused("There is no earlier version to roll back to.")
    return model_version_promote(
        version=last.from_version,
        actor=actor,
        reason=reason or "rollback",
        action=Promotion.Action.ROLLBACK,
    )


# -- evaluation sets ----------------------------------------------------------------


def evaluation_set_create(*, demo: Demo, archive, name: str, user=None) -> EvaluationSet:
    """Check a zip of labelled photos (one folder per answer) and store it."""
    served = demo.promoted_version
    if served is not None:
        accepts = pipeline_for(demo, served, with_gallery=False).accepts_label
    else:
        accepts = lambda label: True  # noqa: E731  (nothing served: nothing to check against)
    labels = evaluation_label_counts(archive, accepts_label=accepts, title=demo.title)
    sha256 = file_sha256(archive)
    evaluation_set = EvaluationSet(
        demo=demo, name=name or archive.name, sha256=sha256, label_counts=labels, uploaded_by=user
    )
    archive.seek(0)
    evaluation_set.archive.save(f"{sha256}.zip", ContentFile(archive.read()), save=False)
    evaluation_set.save()
    return evaluation_set


FLAGGED_SET_NAME = "Corrected answers"  # the set made for the first corrected photo


def _accepts(demo: Demo):
    served = demo.promoted_version
    if served is None:
        return lambda label: True  # nothing served: nothing to check against
    return pipeline_for(demo, served, with_gallery=False).accepts_label


def _check_folder_label(demo: Demo, label: str) -> str:
    """A label that is one folder of a set and an answer of the demo (or a refusal)."""
    label = label.strip()
    if (
        not label
        or len(label) > 120
        or any(c in label for c in "/\\:")
        or label.startswith(".")
        or label == "__MACOSX"
    ):
        raise Refused(f"“{label}” cannot name a folder of an evaluation set.")
    if is_target(label) and not _accepts(demo)(label):
        raise Refused(
            f"“{label}” is not an answer of {demo.title}; use one of its answers "
            "or “neither” for photos it must refuse."
        )
    return label


def evaluation_set_add_photo(
    *, demo: Demo, label: str, photo: bytes, name: str, user=None
) -> EvaluationSet:
    """Add one labelled photo (a JPEG) to the set that validation uses (the
    newest), or make a set of it when the demo has none.

    The photo is copied into the set's zip: the set never depends on where
    the photo came from. ``name`` (without suffix) names the entry; a photo
    already in the set under that name, whatever its label, is refused.
    """
    label = _check_folder_label(demo, label)
    decode_photo(photo)  # the set holds only photos validation can read
    entry = f"{label}/{name}.jpg"
    with transaction.atomic():
        # One writer at a time: two additions at once must not drop either.
        evaluation_set = demo.evaluation_sets.select_for_update().first()
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as buffer:
            old_name = ""
            if evaluation_set is None:
                evaluation_set = EvaluationSet(
                    demo=demo, name=FLAGGED_SET_NAME, label_counts={}, uploaded_by=user
                )
            else:
                old_name = evaluation_set.archive.name
                with evaluation_set.archive.open("rb") as stored:
                    shutil.copyfileobj(stored, buffer)
                buffer.seek(0)
                entries = evaluation_entries(buffer)
                taken = {PurePosixPath(info.filename).name: lbl for lbl, info in entries}
                if f"{name}.jpg" in taken:
                    raise Refused(
                        f"This photo is already in “{evaluation_set.name}”, "
                        f"labelled “{taken[f'{name}.jpg']}”."
                    )
                if len(entries) >= EVAL_MAX_FILES:
                    raise Refused(
                        f"“{evaluation_set.name}” holds {EVAL_MAX_FILES} photos, "
                        "the most a set may."
                    )
            buffer.seek(0)
            # Appended as stored (a JPEG does not deflate): the other entries are
            # copied byte for byte, never inflated here.
            with zipfile.ZipFile(buffer, "a" if old_name else "w") as zf:
                zf.writestr(entry, photo, compress_type=zipfile.ZIP_STORED)
            buffer.seek(0)
            evaluation_set.sha256 = file_sha256(buffer)
            buffer.seek(0)
            evaluation_set.archive.save(f"{evaluation_set.sha256}.zip", File(buffer), save=False)
        counts = dict(evaluation_set.label_counts)
        counts[label] = counts.get(label, 0) + 1
        evaluation_set.label_counts = counts
        evaluation_set.save()
        if old_name and old_name != evaluation_set.archive.name:
            transaction.on_commit(lambda: _delete_unused_archive(old_name))
    return evaluation_set


def _delete_unused_archive(name: str) -> None:
    """The zip a set held before a photo was added, unless another set holds
    the same file (sets are stored by content)."""
    if not EvaluationSet.objects.filter(archive=name).exists():
        default_storage.delete(name)


# -- comparisons ----------------------------------------------------------------------


def comparison_create(*, candidate: ModelVersion, user=None, sample_size: int = 50) -> Comparison:
    baseline = candidate.demo.promoted_version
    if baseline is None or baseline.pk == candidate.pk:
        raise Refused("Compare a candidate against a different, served version.")
    if candidate.status != ModelVersionStatus.READY:
        raise Refused(f"Version {candidate.number} is {candidate.status}, not ready.")
    with transaction.atomic():
        comparison = Comparison.objects.create(
            candidate=candidate, baseline=baseline, requested_by=user, sample_size=sample_size
        )
        transaction.on_commit(lambda: run_comparison.delay(comparison.pk))
    return comparison
