"""Pages where predictions are made and read: the gallery of demos, a demo's
page (upload or example), a prediction, its photo and heatmap, the history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifiers import selectors
from classifiers.api.serializers import PredictionSerializer
from classifiers.inference.images import ImageRejected
from classifiers.inference.refusals import Refused
from classifiers.models import Demo, Prediction
from classifiers.predictions import services
from classifiers.predictions.forms import UploadForm
from classifiers.responses import private_file_response, refusal_json, wants_json
from classifiers.uploads import read_limited
from classifiers.visitors import visitor_id


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
        return read_limited(upload), upload.name
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
        if form.is_valid():
            try:
                data, name = _upload_bytes(demo, form)
                prediction = services.prediction_create(
                    demo=demo,
                    data=data,
                    filename=name,
                    owner=request.user,
                    visitor_id=visitor_id(request, create=True),
                )
            except Refused as exc:
                if wants_json(request):
                    return refusal_json(exc)
                form.add_error(None, exc.message)
                status = exc.status if exc.status == 503 else 400
            else:
                if wants_json(request):
                    return JsonResponse(_status_payload(request, prediction), status=202)
                return redirect(prediction)
        else:
            status = 400
            if wants_json(request):
                message = " ".join(e for errors in form.errors.values() for e in errors)
                return JsonResponse({"error": message, "code": "invalid"}, status=400)
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


def _status_payload(request: HttpRequest, prediction: Prediction) -> dict:
    """The API's view of the prediction, plus what the page's script needs:
    the page to link to, where to poll, and the same partial the pages render."""
    page_url = prediction.get_absolute_url()
    return {
        **PredictionSerializer(prediction, context={"request": request}).data,
        "page_url": page_url,
        "status_url": f"{page_url}status/",
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
    return JsonResponse(_status_payload(request, _visible_prediction(request, prediction_id)))


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


@require_POST
def prediction_rerun(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _visible_prediction(request, prediction_id)
    try:
        rerun = services.prediction_rerun(
            prediction=prediction,
            owner=request.user,
            visitor_id=visitor_id(request, create=True),
        )
    except Refused as exc:
        messages.error(request, f"This upload cannot be re-run: {exc.message}")
        return redirect(prediction)
    return redirect(rerun)


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
