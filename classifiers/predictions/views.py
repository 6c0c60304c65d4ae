"""Pages where predictions are made and read: the gallery of demos, a demo's
page (upload or example), a prediction, its photo and heatmap, the history."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifiers import selectors
from classifiers.api.serializers import PredictionSerializer
from classifiers.api.throttling import upload_allowance_take
from classifiers.clients import client_key
from classifiers.inference.images import ImageRejected
from classifiers.inference.refusals import Refused
from classifiers.models import Demo, Prediction
from classifiers.predictions import ready, services
from classifiers.predictions.forms import DeleteForm, UploadForm
from classifiers.responses import private_file_response, refusal_json, wants_json
from classifiers.uploads import read_limited
from classifiers.visitors import visitor_id

HISTORY_PAGE = 200  # rows the history shows; its delete button names the full count


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
    # Example photos are static files that ship with the code on every
    # machine (static/), not stored files: read from the code, not the storage.
    found = finders.find(demo.examples[index]["image"])
    if not found:
        raise ImageRejected("That example is missing.")
    with open(found, "rb") as f:
        return f.read(), demo.examples[index]["image"].rsplit("/", 1)[-1]


# Refusals a page shows with their own status (and Retry-After); the others are
# about the person's input: the page answers 400 (its script gets their own).
_PAGE_STATUSES = (429, 503)


@require_http_methods(["GET", "POST"])
def demo_detail(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    form = UploadForm()
    refusal: Refused | None = None
    if request.method == "GET" and demo.is_live:
        # The browser's visitor id is made now, once: uploads sent in parallel
        # from this page all carry it (made on their first POST, each would
        # make its own, and the photos of all but one would be lost to it).
        visitor_id(request, create=True)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        try:
            upload_allowance_take(request)
            if not form.is_valid():
                message = " ".join(e for errors in form.errors.values() for e in errors)
                raise Refused(message, code="invalid")
            data, name = _upload_bytes(demo, form)
            prediction = services.prediction_create(
                demo=demo,
                data=data,
                filename=name,
                owner=request.user,
                visitor_id=visitor_id(request, create=True),
                client_key=client_key(request),
            )
        except Refused as exc:
            if wants_json(request):
                return refusal_json(exc)
            if exc.code != "invalid":  # the form shows its own errors
                form.add_error(None, exc.message)
            refusal = exc
        else:
            if wants_json(request):
                return JsonResponse(_status_payload(request, prediction), status=202)
            return redirect(prediction)
    recent = selectors.prediction_list(
        user=request.user, visitor_id=visitor_id(request), demo_slug=demo.slug
    )[:5]
    response = render(
        request,
        "classifiers/demo_detail.html",
        {
            "demo": demo,
            "form": form,
            "recent": recent,
            "known_labels": selectors.demo_known_labels(demo=demo),
        },
        status=200 if refusal is None else _page_status(refusal),
    )
    if refusal is not None and refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def _page_status(refusal: Refused) -> int:
    return refusal.status if refusal.status in _PAGE_STATUSES else 400


def _status_payload(request: HttpRequest, prediction: Prediction) -> dict:
    """The API's view of the prediction, plus what the page's script needs:
    the page to link to, where to poll, and the same partial the pages render."""
    page_url = prediction.get_absolute_url()
    data = PredictionSerializer(prediction, context={"request": request}).data
    return {
        **data,
        "page_url": page_url,
        "status_url": f"{page_url}status/",
        "html": render_to_string(
            "classifiers/_result.html", {"prediction": prediction, "queue": data["queue"]}
        ),
    }


@require_GET
def prediction_detail(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _visible_prediction(request, prediction_id)
    before = selectors.prediction_rerun_source(
        prediction=prediction, user=request.user, visitor_id=visitor_id(request)
    )
    return render(
        request,
        "classifiers/prediction_detail.html",
        {
            "prediction": prediction,
            "before": before,
            "queue": selectors.prediction_progress(prediction=prediction),
        },
    )


@require_GET
def prediction_status(request: HttpRequest, prediction_id) -> JsonResponse:
    prediction = _visible_prediction(request, prediction_id)
    try:
        wait = max(float(request.GET.get("wait", 0)), 0.0)
    except ValueError:
        wait = 0.0  # the page's own script asks; a bad value is simply no wait
    ready.hold(prediction, wait)
    return JsonResponse(_status_payload(request, prediction))


@require_GET
def prediction_image(request: HttpRequest, prediction_id) -> FileResponse:
    prediction = _visible_prediction(request, prediction_id)
    return private_file_response(prediction.image, "image/jpeg")


@require_GET
def prediction_heatmap(request: HttpRequest, prediction_id) -> FileResponse:
    prediction = _visible_prediction(request, prediction_id)
    return private_file_response(prediction.heatmap, "image/png")


UNDO_SESSION_KEY = "undo_prediction"  # base.html offers "Undo" for the one deleted last


@require_http_methods(["GET", "POST"])
def prediction_delete(request: HttpRequest, prediction_id) -> HttpResponse:
    """GET asks first (a page that works without JavaScript; the history's
    button asks in a dialog, static/js/forms.js); POST deletes, and the next
    page offers "Undo" for PREDICTION_UNDO_SECONDS."""
    prediction = _visible_prediction(request, prediction_id)
    if request.method == "GET":
        return render(request, "classifiers/prediction_delete.html", {"prediction": prediction})
    services.prediction_trash(prediction=prediction)
    request.session[UNDO_SESSION_KEY] = str(prediction.id)
    minutes = max(1, settings.PREDICTION_UNDO_SECONDS // 60)
    messages.success(
        request,
        f"Deleted your {prediction.demo.title} prediction ({prediction.answer}). "
        f"You can undo this for {minutes} minute{pluralize(minutes)}.",
        extra_tags="undo",
    )
    return redirect(_after_delete(request, prediction))


def _after_delete(request: HttpRequest, prediction: Prediction) -> str:
    """Back where the person deleted it from: the history they were looking
    at (its filter kept), else the demo."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    if request.user.is_authenticated:
        return reverse("classifiers:history")
    return prediction.demo.get_absolute_url()


@require_POST
def prediction_restore(request: HttpRequest, prediction_id) -> HttpResponse:
    """Undo a delete, by the person who made it, while its window is open."""
    prediction = selectors.prediction_get_deleted(
        prediction_id=prediction_id, user=request.user, visitor_id=visitor_id(request)
    )
    try:
        services.prediction_restore(prediction=prediction)
    except Refused as exc:
        messages.error(request, exc.message)
        return redirect(_after_delete(request, prediction))
    request.session.pop(UNDO_SESSION_KEY, None)
    messages.success(request, f"Restored your {prediction.demo.title} prediction.")
    return redirect(_after_delete(request, prediction))


@require_POST
def prediction_rerun(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _visible_prediction(request, prediction_id)
    try:
        upload_allowance_take(request)
        rerun = services.prediction_rerun(
            prediction=prediction,
            owner=request.user,
            visitor_id=visitor_id(request, create=True),
            client_key=client_key(request),
        )
    except Refused as exc:
        messages.error(request, f"This upload cannot be re-run: {exc.message}")
        return redirect(prediction)
    return redirect(rerun)


def _history_filter(request: HttpRequest) -> str:
    """The demo slug the history is filtered to ("" for all of them). An unknown
    slug filters everything out, on the page and for its delete alike."""
    return request.POST.get("demo", "") or request.GET.get("demo", "")


def _history_url(demo_slug: str) -> str:
    url = reverse("classifiers:history")
    return f"{url}?{urlencode({'demo': demo_slug})}" if demo_slug else url


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    demo_slug = _history_filter(request)
    predictions = selectors.prediction_list(user=request.user, demo_slug=demo_slug)
    return render(
        request,
        "classifiers/history.html",
        {
            "predictions": predictions[:HISTORY_PAGE],
            "total": predictions.count(),
            "demos": selectors.demo_list(),
            "demo_slug": demo_slug,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def history_clear(request: HttpRequest) -> HttpResponse:
    """Delete what the history shows: this account's predictions, of the demo it
    is filtered to. GET asks first, naming the count; POST deletes exactly the
    predictions that count was of (if the list changed meanwhile, it asks again)."""
    demo_slug = _history_filter(request)
    predictions = selectors.prediction_list(user=request.user, demo_slug=demo_slug)
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["count"] == predictions.count():
            count = services.predictions_delete_all(owner=request.user, demo_slug=demo_slug)
            messages.success(request, f"Deleted {count} prediction{pluralize(count)}.")
            return redirect(_history_url(demo_slug))
        messages.warning(request, "Your history changed meanwhile: here it is as it is now.")
    demo = selectors.demo_list().filter(slug=demo_slug).first() if demo_slug else None
    return render(
        request,
        "classifiers/history_clear.html",
        {
            "count": predictions.count(),
            "demo": demo,
            "demo_slug": demo_slug,
            "history_url": _history_url(demo_slug),
        },
    )
