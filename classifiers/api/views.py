"""The API: parse, call a service or selector, render. Errors: classifiers.api.errors."""

from __future__ import annotations

from dataclasses import asdict

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers, status
from rest_framework.fields import empty
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifiers import selectors
from classifiers.api import selectors as api_selectors
from classifiers.api.serializers import (
    ErrorSerializer,
    ModelVersionWithMetricsSerializer,
    PredictionSerializer,
    QueueSerializer,
    prediction_url,
)
from classifiers.api.throttling import UploadThrottle
from classifiers.clients import client_key
from classifiers.models import PredictionStatus
from classifiers.predictions import ready as answer_signal
from classifiers.predictions import services
from classifiers.responses import private_file_response
from classifiers.uploads import read_limited
from classifiers.visitors import api_visitor_id, visitor_id


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)
NOT_FOUND = _error("No such prediction, or not yours (the same answer, on purpose).")
BAD_TOKEN = _error("The token is unknown or was revoked.")
FORBIDDEN = _error("Signed in with a session cookie but without the CSRF token.")


class DemoListApi(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Demo"

        slug = serializers.SlugField()
        title = serializers.CharField()
        summary = serializers.CharField()
        kind = serializers.CharField()
        live = serializers.BooleanField(
            source="is_live", help_text="False while the demo takes no uploads yet."
        )
        page_url = serializers.SerializerMethodField()
        promoted_version = ModelVersionWithMetricsSerializer(
            allow_null=True, help_text="The version that answers uploads now."
        )

        def get_page_url(self, demo) -> str:
            return self.context["request"].build_absolute_uri(demo.get_absolute_url())

    @extend_schema(
        operation_id="demos_list",
        summary="The demos, with the model version each serves and its figures",
        responses={200: OutputSerializer(many=True), 401: BAD_TOKEN},
    )
    def get(self, request: Request) -> Response:
        demos = selectors.demo_list()
        return Response(self.OutputSerializer(demos, many=True, context={"request": request}).data)


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter where "?page=" is a mistake (400), not "no page"."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class PredictionPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100


class PredictionListCreateApi(APIView):
    # Only multipart: a JSON body is answered 415, not misread as missing fields.
    parser_classes = [MultiPartParser]
    pagination_class = PredictionPagination

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PredictionUpload"

        # A slug, looked up in post(): an unknown demo is a 404, as its page is,
        # and is answered before anything else (a full queue, a bad photo).
        demo = serializers.SlugField(
            help_text="The demo's slug, e.g. `cats-vs-dogs` (see GET /api/v1/demos/).",
        )
        image = serializers.FileField(
            allow_empty_file=False,
            help_text="A JPEG, PNG, WebP, GIF or BMP photo, at most UPLOAD_MAX_BYTES (10 MB).",
        )

    class CreatedSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PredictionQueued"

        id = serializers.UUIDField()
        status = serializers.ChoiceField(choices=PredictionStatus.choices)
        url = serializers.URLField(help_text="The prediction: GET it for status and answer.")
        status_url = serializers.URLField(help_text="Where to poll; the same as `url`.")
        queue = QueueSerializer(
            help_text="Uploads ahead, about how long, and when to ask first (`poll_after_ms`)."
        )

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PredictionFilter"

        # Checked here, not left to the paginator, which quietly ignores a bad page_size.
        demo = serializers.RegexField(
            r"^[-a-zA-Z0-9_]*$",
            required=False,
            allow_blank=True,
            help_text="Only this demo's predictions (a slug; empty means all).",
        )
        page = QueryIntegerField(min_value=1, required=False, help_text="A page number, from 1.")
        page_size = QueryIntegerField(
            min_value=1,
            max_value=PredictionPagination.max_page_size,
            required=False,
            help_text=f"Predictions per page (default {PredictionPagination.page_size}).",
        )

    def get_permissions(self):
        # Anyone may upload; only an account has a list of its own.
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self):
        if self.request.method == "POST":
            return [UploadThrottle()]  # the same allowance as the demo pages
        return []

    @extend_schema(
        operation_id="predictions_list",
        summary="My predictions, newest first (an account's: token or session)",
        parameters=[FilterSerializer],
        responses={
            200: PredictionSerializer(many=True),
            400: _error("A bad filter."),
            401: _error("No credentials, or a bad token: anonymous uploads are not listed."),
            404: _error("No such page."),
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        predictions = selectors.prediction_list(
            user=request.user, demo_slug=filters.validated_data.get("demo", "")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(predictions, request, view=self)
        data = PredictionSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="predictions_create",
        summary="Upload a photo to a demo; poll the answer at the returned URL",
        request={"multipart/form-data": InputSerializer},
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                description="The new prediction's URL.",
            ),
            RETRY_AFTER,
        ],
        responses={
            202: CreatedSerializer,
            400: _error("A missing or bad field, or an unreadable image."),
            401: BAD_TOKEN,
            403: FORBIDDEN,
            404: _error("No demo has this slug."),
            413: _error("The file is over the size or pixel limit, or the body is too large."),
            415: _error("Not multipart/form-data, or an image format we do not take."),
            429: _error(
                "Too many uploads from this client (UPLOAD_ANON_RATE per address, "
                "UPLOAD_USER_RATE per account), or too many of its photos are waiting "
                "(QUEUE_MAX_PER_CLIENT); see Retry-After."
            ),
            503: _error("The workers are too far behind; see Retry-After."),
        },
        examples=[
            OpenApiExample(
                "Queued",
                value={
                    "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                    "status": "queued",
                    "url": "https://example.org/api/v1/predictions/1b4e28ba-2fa1-11d2-883f-0016d3cca427/",
                    "status_url": "https://example.org/api/v1/predictions/1b4e28ba-2fa1-11d2-883f-0016d3cca427/",
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request: Request) -> Response:
        upload = self.InputSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        demo = selectors.demo_list().filter(slug=upload.validated_data["demo"]).first()
        if demo is None:
            raise exceptions.NotFound("No demo has this slug; see GET /api/v1/demos/.")
        image = upload.validated_data["image"]
        authenticated = request.user.is_authenticated
        prediction = services.prediction_create(
            demo=demo,
            data=read_limited(image),
            filename=image.name or "",
            owner=request.user if authenticated else None,
            visitor_id="" if authenticated else api_visitor_id(),
            client_key=client_key(request),
        )
        url = prediction_url(request, prediction)
        body = {
            "id": prediction.id,
            "status": prediction.status,
            "url": url,
            "status_url": url,
            "queue": asdict(selectors.prediction_progress(prediction=prediction)),
        }
        return Response(
            self.CreatedSerializer(body).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


def _readable(request: Request, prediction_id):
    return api_selectors.prediction_get_by_id(
        prediction_id=prediction_id, user=request.user, visitor_id=visitor_id(request)
    )


class PredictionDetailApi(APIView):
    def get_permissions(self):
        # Reading needs the id only; deleting needs the account that owns it.
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    class WaitSerializer(serializers.Serializer):
        wait = serializers.FloatField(required=False, default=0, min_value=0)

    @extend_schema(
        operation_id="predictions_retrieve",
        summary="One prediction: status, answer, model version, timings",
        parameters=[
            OpenApiParameter(
                "wait",
                OpenApiTypes.FLOAT,
                description=(
                    "Seconds (at most 20) to hold the request until the answer is stored: "
                    "one request instead of polling. The site may answer sooner with the "
                    "prediction still queued (then ask again after `queue.poll_after_ms`)."
                ),
            )
        ],
        responses={
            200: PredictionSerializer,
            400: _error("A bad `wait`."),
            401: BAD_TOKEN,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, prediction_id) -> Response:
        query = self.WaitSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        prediction = _readable(request, prediction_id)
        answer_signal.hold(prediction, query.validated_data["wait"])
        return Response(PredictionSerializer(prediction, context={"request": request}).data)

    @extend_schema(
        operation_id="predictions_destroy",
        summary="Delete one of my predictions and its photo",
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: _error("No credentials, or a bad token: only an account can delete."),
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, prediction_id) -> Response:
        prediction = api_selectors.prediction_get_own(
            prediction_id=prediction_id, user=request.user
        )
        services.prediction_delete(prediction=prediction)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PredictionImageApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="predictions_image",
        summary="The uploaded photo as stored (re-encoded JPEG)",
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
            401: BAD_TOKEN,
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, prediction_id) -> FileResponse:
        return private_file_response(_readable(request, prediction_id).image, "image/jpeg")


class PredictionHeatmapApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="predictions_heatmap",
        summary="Where the model looked (Grad-CAM overlay, PNG), when it has one",
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
            401: BAD_TOKEN,
            404: _error("No such prediction, not yours, or no heatmap for it."),
        },
    )
    def get(self, request: Request, prediction_id) -> FileResponse:
        return private_file_response(_readable(request, prediction_id).heatmap, "image/png")


class PredictionShareApi(APIView):
    """Share an answer with a link, or stop: for whoever may read it as its owner
    (its account; or, for an anonymous API upload, whoever holds its id)."""

    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ShareRequest"

        show_photo = serializers.BooleanField(
            default=False, help_text="Show the photo (and heatmap) on the shared page too."
        )

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Share"

        shared = serializers.BooleanField(source="is_shared")
        url = serializers.SerializerMethodField(
            help_text="The public page while shared (it shows no owner), else null."
        )
        show_photo = serializers.BooleanField(source="share_photo")

        @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
        def get_url(self, prediction) -> str | None:
            if not prediction.is_shared:
                return None
            return self.context["request"].build_absolute_uri(prediction.get_shared_url())

    def _output(self, request: Request, prediction) -> Response:
        return Response(self.OutputSerializer(prediction, context={"request": request}).data)

    @extend_schema(
        operation_id="predictions_share_retrieve",
        summary="Whether the answer is shared, its link and whether it shows the photo",
        responses={200: OutputSerializer, 401: BAD_TOKEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, prediction_id) -> Response:
        return self._output(request, _readable(request, prediction_id))

    @extend_schema(
        operation_id="predictions_share",
        summary="Share the answer with a link (again: change whether it shows the photo)",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: _error("Not answered yet (or failed), or a bad field."),
            401: BAD_TOKEN,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, prediction_id) -> Response:
        prediction = _readable(request, prediction_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.prediction_share(
            prediction=prediction, show_photo=body.validated_data["show_photo"]
        )
        return self._output(request, prediction)

    @extend_schema(
        operation_id="predictions_unshare",
        summary="Stop sharing: the link stops working",
        responses={
            204: OpenApiResponse(description="Not shared (any more)."),
            401: BAD_TOKEN,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, prediction_id) -> Response:
        services.prediction_unshare(prediction=_readable(request, prediction_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
