from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifiers import selectors, services
from classifiers.forms import UploadForm
from classifiers.inference.faces import face_crop_jpeg
from classifiers.inference.images import ImageRejected
from classifiers.models import Demo, PersonPhoto, Prediction
from classifiers.visitors import visitor_id


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _visible_prediction(request: HttpRequest, prediction_id) -> Prediction:
    return selectors.prediction_get(
        prediction_id=prediction_id, user=request.user, visitor_id=visitor_id(request)
    )


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    return render(request, "classifiers/gallery.html", {"demos": selectors.demo_list()})


def _upload_bytes(demo: Demo, form: UploadForm) -> tuple[bytes, str]:
    upload = form.cleaned_data.get("image")
    if upload:
        # Django streams any size of file to disk (DATA_UPLOAD_MAX_MEMORY_SIZE
        # excludes files): read one byte past the limit, enough to refuse it.
        return upload.read(settings.UPLOAD_MAX_BYTES + 1), upload.name
    index = form.cleaned_data["example"]
    if index >= len(demo.examples):
        raise ImageRejected("There is no such example.")
    found = finders.find(demo.examples[index]["image"])
    if not found:
        raise ImageRejected("That example is missing.")
    with open(found, "rb") as f:
        return f.read(), demo.examples[index]["image"].rsplit("/", 1)[-1]


@require_http_methods(["GET", "POST"])
def demo_detail(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    form = UploadForm()
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        busy = None
        if form.is_valid():
            try:
                services.prediction_queue_guard()
                data, name = _upload_bytes(demo, form)
                prediction = services.prediction_create(
                    demo=demo,
                    data=data,
                    filename=name,
                    owner=request.user,
                    visitor_id=visitor_id(request, create=True),
                )
            except services.QueueFull as exc:
                busy = exc
                form.add_error(None, str(exc))
            except (ImageRejected, services.DemoNotServed) as exc:
                form.add_error(None, str(exc))
            else:
                if _wants_json(request):
                    return JsonResponse(_status_payload(prediction), status=202)
                return redirect(prediction)
        if busy is not None and _wants_json(request):
            response = JsonResponse(
                {"error": str(busy), "code": "queue_full", "retry_after": busy.retry_after},
                status=503,
            )
            response["Retry-After"] = str(busy.retry_after)
            return response
        if _wants_json(request):
            message = " ".join(e for errors in form.errors.values() for e in errors)
            return JsonResponse({"error": message}, status=400)
        status = 400 if busy is None else 503
    recent = selectors.prediction_list(
        user=request.user, visitor_id=visitor_id(request), demo_slug=demo.slug
    )[:5]
    return render(
        request,
        "classifiers/demo_detail.html",
        {
            "demo": demo,
            "form": form,
            "recent": recent,
            "known_labels": selectors.demo_known_labels(demo=demo),
        },
        status=status,
    )


def _status_payload(prediction: Prediction) -> dict:
    version = prediction.model_version
    return {
        "id": str(prediction.id),
        "status": prediction.status,
        "finished": prediction.is_finished,
        "url": prediction.get_absolute_url(),
        "status_url": f"{prediction.get_absolute_url()}status/",
        "image_url": f"{prediction.get_absolute_url()}image/",
        "result": prediction.result,
        "error": prediction.error,
        "model_version": version.number if version else None,
        "model_name": version.name if version else None,
        # The same partial the pages use, so the live view and a reload agree.
        "html": render_to_string("classifiers/_result.html", {"prediction": prediction}),
    }


@require_GET
def prediction_detail(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _visible_prediction(request, prediction_id)
    before = selectors.prediction_rerun_source(
        prediction=prediction, user=request.user, visitor_id=visitor_id(request)
    )
    return render(
        request, "classifiers/prediction_detail.html", {"prediction": prediction, "before": before}
    )


@require_GET
def prediction_status(request: HttpRequest, prediction_id) -> JsonResponse:
    return JsonResponse(_status_payload(_visible_prediction(request, prediction_id)))


def private_file_response(field_file, content_type: str) -> FileResponse:
    """A stored upload (or its heatmap) for the one person allowed to see it."""
    if not field_file:
        raise Http404("no such file")
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("file not found") from exc
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"  # never in a shared cache
    return response


@require_GET
def prediction_image(request: HttpRequest, prediction_id) -> FileResponse:
    prediction = _visible_prediction(request, prediction_id)
    return private_file_response(prediction.image, "image/jpeg")


@require_GET
def prediction_heatmap(request: HttpRequest, prediction_id) -> FileResponse:
    prediction = _visible_prediction(request, prediction_id)
    return private_file_response(prediction.heatmap, "image/png")


@require_POST
def prediction_delete(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _visible_prediction(request, prediction_id)
    services.prediction_delete(prediction=prediction)
    messages.success(request, "Prediction deleted.")
    if request.user.is_authenticated:
        return redirect("classifiers:history")
    return redirect("classifiers:gallery")


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    demo_slug = request.GET.get("demo", "")
    predictions = selectors.prediction_list(user=request.user, demo_slug=demo_slug)
    return render(
        request,
        "classifiers/history.html",
        {"predictions": predictions[:200], "demos": selectors.demo_list(), "demo_slug": demo_slug},
    )


@login_required
@require_POST
def history_clear(request: HttpRequest) -> HttpResponse:
    count = services.predictions_delete_all(owner=request.user)
    messages.success(request, f"Deleted {count} prediction{'s' if count != 1 else ''}.")
    return redirect("classifiers:history")


@require_GET
def gallery_photo(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """A look-alike gallery photo. These are published photos of public figures
    (unlike uploads), shown next to the answer, so anyone may see them."""
    photo = get_object_or_404(PersonPhoto, pk=pk)
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError as exc:
        raise Http404("image not found") from exc
    if request.GET.get("crop") == "face":
        # The thumbnail next to an answer: the face, not the whole portrait.
        box = (
            photo.embeddings.filter(bbox__isnull=False)
            .order_by("-id")
            .values_list("bbox", flat=True)
            .first()
        )
        with handle:
            response = HttpResponse(face_crop_jpeg(handle, box), content_type="image/jpeg")
    else:
        response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response
