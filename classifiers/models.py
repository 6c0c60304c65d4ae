from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse

from classifiers.inference.kinds import kind_choices, pipeline_class


class Demo(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=120)
    summary = models.CharField(max_length=240, help_text="One line on the gallery card.")
    description = models.TextField(blank=True)
    # One of classifiers.inference.kinds.KINDS: the class with every kind-specific hook.
    kind = models.CharField(max_length=32, choices=kind_choices)
    # Pipeline options for this demo (which classes count, how many to show).
    config = models.JSONField(default=dict, blank=True)
    # [{"image": "static path", "caption": "..."}]: shipped with the site.
    examples = models.JSONField(default=list, blank=True)
    promoted_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("position", "slug")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("classifiers:demo", args=[self.slug])

    @property
    def is_live(self) -> bool:
        return self.promoted_version_id is not None

    @property
    def pipeline_class(self):
        return pipeline_class(self.kind)

    @property
    def result_template(self) -> str:
        return self.pipeline_class.result_template


class ModelVersionStatus(models.TextChoices):
    UPLOADED = "uploaded"
    VALIDATING = "validating"
    READY = "ready"
    INVALID = "invalid"


def _artifact_path(instance: ModelVersion, filename: str) -> str:
    return f"model_versions/{instance.demo.slug}/v{instance.number}-{filename}"


class ModelVersion(models.Model):
    demo = models.ForeignKey(Demo, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=120, help_text="e.g. EfficientNet-Lite0")
    artifact = models.FileField(upload_to=_artifact_path, max_length=255)
    sha256 = models.CharField(max_length=64)
    labels = models.JSONField(default=list)
    # {"size": 224, "preprocessing": "lite", "crop": 1.0, "resample": "bicubic"}
    input_spec = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=ModelVersionStatus.choices, default=ModelVersionStatus.UPLOADED
    )
    status_reason = models.TextField(blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    # Fitted on labelled photos, used when answering:
    # {"threshold": 0.33, "map": {"a": 1.2, "b": 3.0}, "fitted_on": "..."}
    calibration = models.JSONField(default=dict, blank=True)
    # Measured on other photos, shown on the model card:
    # {"accuracy": 0.97, "ece": 0.03, "evaluated_on": "...", ...}
    metrics = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Who uploaded it, as written at the time (kept after the account is gone);
    # empty for the versions that set-up commands register.
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("demo", "-number")
        constraints = [
            models.UniqueConstraint(fields=("demo", "number"), name="unique_version_per_demo")
        ]

    def __str__(self) -> str:
        return f"{self.demo.slug} v{self.number} ({self.name})"

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def is_removed(self) -> bool:
        """Removed by staff (services.model_version_remove): the row stays as the
        record of what was uploaded and why it failed; its file is gone."""
        return self.status == ModelVersionStatus.INVALID and not self.artifact

    @property
    def display_status(self) -> str:
        return "removed" if self.is_removed else self.get_status_display().lower()

    @property
    def is_uploaded(self) -> bool:
        """Uploaded by staff on the site, not shipped with it (set-up leaves no name)."""
        return bool(self.created_by_name or self.created_by_id)

    @property
    def architecture(self) -> str:
        """What the network is, as its validation read it from the file."""
        return (self.metrics.get("architecture") or {}).get("summary", "")


class Promotion(models.Model):
    """Audit row for every change of a demo's promoted version."""

    class Action(models.TextChoices):
        PROMOTE = "promote"
        ROLLBACK = "rollback"

    demo = models.ForeignKey(Demo, on_delete=models.CASCADE, related_name="promotions")
    from_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.PROMOTE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Who acted, as written at the time: the audit keeps it after the account is gone.
    actor_name = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.demo_id}: {self.from_version_id} -> {self.to_version_id} ({self.action})"


class PredictionStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    REJECTED = "rejected"  # the model answered honestly: not a cat/dog, no face
    FAILED = "failed"


def _prediction_image_path(instance: Prediction, filename: str) -> str:
    return f"predictions/{instance.created_at:%Y/%m/%d}/{instance.id}.jpg"


def _prediction_heatmap_path(instance: Prediction, filename: str) -> str:
    return f"predictions/{instance.created_at:%Y/%m/%d}/{instance.id}-heatmap.png"


class PredictionQuerySet(models.QuerySet):
    pass


class VisiblePredictionManager(models.Manager.from_queryset(PredictionQuerySet)):
    """Predictions nobody has deleted: what every page, the API, the worker
    and the queue see. A deleted one waits PREDICTION_UNDO_SECONDS for its
    owner's "Undo", then ``predictions_purge_deleted`` removes row and files."""

    def get_queryset(self) -> PredictionQuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class Prediction(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="predictions",
    )
    # A random id kept in the visitor's session (it survives the session key
    # change at login), so anonymous work can move to the account.
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Who sent it, for per-client limits on queued work: "user:<id>" or a hash
    # of the client's address (never the address itself).
    client_key = models.CharField(max_length=64, blank=True, db_index=True)
    demo = models.ForeignKey(Demo, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="predictions"
    )
    image = models.ImageField(upload_to=_prediction_image_path, max_length=255)
    # Grad-CAM overlay, the size of ``image``; as private as the photo.
    heatmap = models.ImageField(upload_to=_prediction_heatmap_path, max_length=255, blank=True)
    image_sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=16, choices=PredictionStatus.choices, default=PredictionStatus.QUEUED
    )
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A re-run of an earlier upload on the version promoted since (same photo).
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed by the worker while it runs the prediction: a running row whose
    # heartbeat stopped lost its worker and is queued again by the sweep.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Sharing (classifiers.predictions.services.prediction_share): while set,
    # anyone with /shared/<share_token>/ reads the answer, and the photo and
    # heatmap only with ``share_photo``. Unsharing clears it: the old link dies
    # and sharing again makes a new one.
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    share_photo = models.BooleanField(default=False)
    shared_at = models.DateTimeField(null=True, blank=True)
    # Set when its owner deletes it from a page: hidden at once (the default
    # manager), restorable for a short while, then purged with its files.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = VisiblePredictionManager()
    # Deleted ones too: undo and purge only. (ruff takes a Manager() for a field.)
    all_objects = models.Manager()  # noqa: DJ012

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=("owner", "-created_at")),
            models.Index(fields=("status", "created_at")),
            # Recent answers: the queue's speed (ETA) and the staff's monitoring.
            models.Index(fields=("finished_at",)),
            # The purge's lookup; only the few deleted rows are in it.
            models.Index(
                fields=("deleted_at",),
                condition=models.Q(deleted_at__isnull=False),
                name="prediction_deleted_at_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.demo.slug} {self.id} {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("classifiers:prediction", args=[self.id])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def answer(self) -> str:
        """The short answer a person reads in the history list."""
        if self.status == PredictionStatus.FAILED:
            return "failed"
        if not self.is_finished:
            return self.get_status_display().lower() + "…"
        return self.demo.pipeline_class.short_answer(self.result)

    @property
    def heatmap_style(self) -> str:
        """Where the small heatmap goes over the photo, as CSS: all of it (an
        overlay of the photo's shape, explain.heatmap_png), or for answers
        stored before, the part the network saw (``crop_box``, fractions)."""
        details = self.result.get("details", {})
        box = details.get("crop_box") or [0.0, 0.0, 1.0, 1.0]
        if details.get("heatmap_covers") == "photo":
            box = [0.0, 0.0, 1.0, 1.0]
        left, top, right, bottom = (float(x) * 100 for x in box)
        return (
            f"left: {left:.2f}%; top: {top:.2f}%; "
            f"width: {right - left:.2f}%; height: {bottom - top:.2f}%"
        )

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at and self.created_at:
            return int((self.finished_at - self.created_at).total_seconds() * 1000)
        return None

    @property
    def is_answered(self) -> bool:
        """Finished with an answer (a refusal is one): what can be shared or flagged."""
        return self.status in (PredictionStatus.DONE, PredictionStatus.REJECTED)

    @property
    def is_shared(self) -> bool:
        return bool(self.share_token)

    def get_shared_url(self) -> str:
        return reverse("classifiers:shared", args=[self.share_token]) if self.share_token else ""


FINISHED_STATUSES = (PredictionStatus.DONE, PredictionStatus.REJECTED, PredictionStatus.FAILED)


# The celebrity gallery of the face look-alike demo. Its photos are of public
# figures from packaged sample data or added by staff, so unlike uploads they
# are served publicly (classifiers.gallery.views.gallery_photo).


class Person(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=140, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Part of the gallery's cache key in workers: a rename shows without a restart.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.name


def _gallery_photo_path(instance: PersonPhoto, filename: str) -> str:
    return f"gallery/{instance.person.slug}/{uuid.uuid4().hex}.jpg"


class PersonPhoto(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to=_gallery_photo_path, max_length=255)
    # Of the file as given, so enrolling the same photo twice adds it once.
    image_sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=255, blank=True, help_text="Where the photo is from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("person", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("person", "image_sha256"), name="unique_photo_per_person"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person.name} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("classifiers:gallery-photo", args=[self.pk])


class FaceEmbedding(models.Model):
    """One photo's face as seen by one embedding-model version (computed by a worker)."""

    photo = models.ForeignKey(PersonPhoto, on_delete=models.CASCADE, related_name="embeddings")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="face_embeddings"
    )
    # The largest face's embedding; null when the photo shows no face.
    vector = models.JSONField(null=True, blank=True)
    bbox = models.JSONField(null=True, blank=True, help_text="[left, top, right, bottom]")
    faces = models.PositiveSmallIntegerField(default=0, help_text="Faces found in the photo.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("photo", "model_version")
        constraints = [
            models.UniqueConstraint(
                fields=("photo", "model_version"), name="unique_embedding_per_photo_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.photo} @ v{self.model_version.number}"

    @property
    def has_face(self) -> bool:
        return self.vector is not None


def _evaluation_set_path(instance: EvaluationSet, filename: str) -> str:
    return f"evaluation_sets/{instance.demo.slug}/{instance.sha256}.zip"


class EvaluationSet(models.Model):
    """Labelled photos (a zip, one folder per answer) on which new versions of
    a demo are fitted and measured, so their figures compare."""

    demo = models.ForeignKey(Demo, on_delete=models.CASCADE, related_name="evaluation_sets")
    name = models.CharField(max_length=120)
    archive = models.FileField(upload_to=_evaluation_set_path, max_length=255)
    sha256 = models.CharField(max_length=64)
    # {"cat": 150, "dog": 150, "neither": 150}
    label_counts = models.JSONField(default=dict)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.demo.slug}: {self.name}"

    @property
    def photo_count(self) -> int:
        return sum(self.label_counts.values())


class ComparisonStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Comparison(models.Model):
    """A candidate version run over recent real uploads, against the served one."""

    candidate = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    baseline = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    sample_size = models.PositiveSmallIntegerField(default=50)
    status = models.CharField(
        max_length=16, choices=ComparisonStatus.choices, default=ComparisonStatus.QUEUED
    )
    # [{"prediction": id, "baseline": {...}, "candidate": {...}, "agree": bool}]
    rows = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a worker claimed it: a row left running long after is re-claimed.
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"v{self.candidate.number} vs v{self.baseline.number} ({self.status})"

    @property
    def disagreements(self) -> list[dict]:
        return [row for row in self.rows if not row.get("agree")]


class FlagStatus(models.TextChoices):
    OPEN = "open", "open"
    ADDED = "added", "added to the evaluation set"
    DISMISSED = "dismissed", "dismissed"


class Flag(models.Model):
    """Someone who saw an answer (its owner, or a visitor of its shared page)
    says it is wrong and what it should be; staff add the photo to the demo's
    evaluation set with the right label, or dismiss it (classifiers.feedback)."""

    # Null once the owner deleted the upload: the flag stays, its photo is gone.
    prediction = models.ForeignKey(
        Prediction, null=True, blank=True, on_delete=models.SET_NULL, related_name="flags"
    )
    demo = models.ForeignKey(Demo, on_delete=models.CASCADE, related_name="flags")
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The answer as it was shown when flagged (the prediction may be gone later).
    answer = models.CharField(max_length=255, blank=True)
    # What it should be: one of the demo's answers where it has a fixed list
    # (as an evaluation set names its folder), else free text.
    label = models.CharField(max_length=120)
    comment = models.TextField(blank=True)
    # Who flagged (classifiers.clients.client_key): one flag per answer each.
    client_key = models.CharField(max_length=64, db_index=True)
    via_share = models.BooleanField(default=False, help_text="Flagged on the shared page.")
    status = models.CharField(max_length=16, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    resolved_label = models.CharField(max_length=120, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    resolved_by_name = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    evaluation_set = models.ForeignKey(
        EvaluationSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="flags"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("prediction", "client_key"), name="one_flag_per_answer_per_client"
            )
        ]
        indexes = [models.Index(fields=("demo", "status", "-created_at"))]

    def __str__(self) -> str:
        return f"{self.demo_id}: {self.answer!r} should be {self.label!r} ({self.status})"
