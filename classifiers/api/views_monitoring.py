"""The staff's queue figures as JSON, for an outside monitor to scrape with a
staff account's token (the page that shows them: classifiers.monitoring.views)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifiers.api.serializers import ErrorSerializer
from classifiers.monitoring import selectors

# The parts of the report; module-level because a class nested in the view
# cannot name its siblings.


class QueueDepthSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Waiting for a worker.")
    running = serializers.IntegerField(help_text="Claimed by a worker, not answered yet.")
    oldest_queued_at = serializers.DateTimeField(allow_null=True)
    oldest_queued_seconds = serializers.FloatField(
        allow_null=True, help_text="How long the oldest waiting photo has waited."
    )
    requeued = serializers.IntegerField(
        help_text="Waiting again after the worker running them was lost."
    )
    lost = serializers.IntegerField(
        help_text="Running without a heartbeat in `alive_window_seconds`: the sweep takes "
        "them back."
    )


class QueueWorkersSerializer(serializers.Serializer):
    busy = serializers.IntegerField(
        help_text="Worker processes that beat in the last `alive_window_seconds` (a worker "
        "beats only while it answers: an idle one is not counted)."
    )
    alive_window_seconds = serializers.FloatField()
    last_heartbeat_at = serializers.DateTimeField(allow_null=True)
    last_answer_at = serializers.DateTimeField(allow_null=True)


class QueueBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    minutes = serializers.IntegerField()
    answered = serializers.IntegerField(help_text="Done or rejected: the model answered.")
    failed = serializers.IntegerField()
    per_minute = serializers.FloatField(help_text="Answered per minute.")


class QueueLatencySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Answers timed.")
    p50_seconds = serializers.FloatField(allow_null=True)
    p95_seconds = serializers.FloatField(allow_null=True)


class QueueVersionSerializer(serializers.Serializer):
    demo = serializers.CharField(source="demo_slug")
    version = serializers.IntegerField(
        source="version_number",
        allow_null=True,
        help_text="Null: failed before any worker took them.",
    )
    version_name = serializers.CharField()
    finished = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = serializers.FloatField()
    top_error = serializers.CharField(help_text="The failure message read most often.")
    top_error_count = serializers.IntegerField()


class StaffQueueApi(APIView):
    permission_classes = [IsAdminUser]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "QueueReport"

        generated_at = serializers.DateTimeField()
        since = serializers.DateTimeField(
            help_text="Start of the hour: the last 60 clock minutes, this one included."
        )
        window_seconds = serializers.FloatField()
        depth = QueueDepthSerializer()
        workers = QueueWorkersSerializer()
        answered = serializers.IntegerField()
        failed = serializers.IntegerField()
        answers_per_minute = serializers.FloatField()
        buckets = QueueBucketSerializer(many=True, help_text="Every five minutes, oldest first.")
        minutes = QueueBucketSerializer(many=True, help_text="Every minute, oldest first.")
        upload_to_answer = QueueLatencySerializer(help_text="Includes the wait in the queue.")
        claim_to_answer = QueueLatencySerializer()
        versions = QueueVersionSerializer(many=True, help_text="Most failures first.")
        warnings = serializers.ListField(
            child=serializers.CharField(), help_text="What needs a person now, in words."
        )

    @extend_schema(
        operation_id="staff_queue",
        summary="Queue depth, workers, answers, latency and failures of the last hour (staff)",
        responses={
            200: OutputSerializer,
            401: OpenApiResponse(ErrorSerializer, description="No credentials, or a bad token."),
            403: OpenApiResponse(ErrorSerializer, description="Not a staff account."),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(selectors.queue_report()).data)
