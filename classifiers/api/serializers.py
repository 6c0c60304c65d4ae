"""Output shapes shared by several API classes (each class nests its own input)."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from classifiers import selectors
from classifiers.models import Prediction, PredictionStatus


class ErrorSerializer(serializers.Serializer):
    """What every error answers (classifiers.api.errors)."""

    error = serializers.CharField(help_text="A message for a person.")
    code = serializers.CharField(help_text="A short code for a program, e.g. `not_found`.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per field messages (400 on bad input only).",
    )
    retry_after = serializers.IntegerField(
        required=False, help_text="Seconds to wait before trying again (429, 503)."
    )


class QueueSerializer(serializers.Serializer):
    ahead = serializers.IntegerField()
    eta_seconds = serializers.FloatField()
    poll_after_ms = serializers.IntegerField()


class ModelVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()


class ModelVersionWithMetricsSerializer(ModelVersionSerializer):
    metrics = serializers.DictField(
        help_text="Measured on held-out photos: accuracy, ece, latency, evaluated_on..."
    )


def _absolute(request, name: str, *args) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


def prediction_url(request, prediction: Prediction) -> str:
    return _absolute(request, "api:prediction", prediction.id)


class PredictionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.SerializerMethodField()
    demo = serializers.CharField(source="demo.slug", help_text="The demo's slug.")
    status = serializers.ChoiceField(choices=PredictionStatus.choices)
    finished = serializers.BooleanField(
        source="is_finished", help_text="False while queued or running: poll `url` until true."
    )
    result = serializers.DictField(
        help_text=(
            "The answer once done or rejected: label, score, top [{label, score}], "
            "reason (when rejected), details."
        )
    )
    error = serializers.CharField(help_text="Why it failed (status failed), else empty.")
    model_version = ModelVersionSerializer(
        allow_null=True, help_text="The version that answered (null until a worker takes it)."
    )
    filename = serializers.CharField(source="original_name")
    image_url = serializers.SerializerMethodField()
    heatmap_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(
        allow_null=True, help_text="From upload to answer, in milliseconds."
    )
    queue = serializers.SerializerMethodField(
        help_text=(
            "While unfinished: `ahead` (uploads answered before this one), `eta_seconds` "
            "(about how long, at the workers' recent speed) and `poll_after_ms` (when it is "
            "worth asking again). Null once finished."
        )
    )

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, prediction: Prediction) -> str:
        return prediction_url(self.context["request"], prediction)

    @extend_schema_field(OpenApiTypes.URI)
    def get_image_url(self, prediction: Prediction) -> str:
        return _absolute(self.context["request"], "api:prediction-image", prediction.id)

    @extend_schema_field(QueueSerializer(allow_null=True))
    def get_queue(self, prediction: Prediction) -> dict | None:
        progress = selectors.prediction_progress(prediction=prediction)
        return None if progress is None else asdict(progress)

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_heatmap_url(self, prediction: Prediction) -> str | None:
        if not prediction.heatmap:
            return None
        return _absolute(self.context["request"], "api:prediction-heatmap", prediction.id)
