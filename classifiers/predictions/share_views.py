"""Sharing an answer: its owner makes a link that shows it to anyone, and
takes it back; the shared page (with its photo only if the owner chose so).

The shared page shows the answer and nothing of its owner: no name, no file
name, no other answers, not even the prediction's id (for an anonymous API
upload the id is the key that reads it).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from classifiers import selectors
from classifiers.inference.refusals import Refused
from classifiers.models import Prediction
from classifiers.predictions import services
from classifiers.predictions.forms import ShareForm
from classifiers.responses import private_file_response
from classifiers.visitors import visitor_id


def _own_prediction(request: HttpRequest, prediction_id) -> Prediction:
    """Only its owner (account, or the browser that uploaded it) may share it."""
    return selectors.prediction_get(
        prediction_id=prediction_id, user=request.user, visitor_id=visitor_id(request)
    )


@require_POST
def prediction_share(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _own_prediction(request, prediction_id)
    form = ShareForm(request.POST)
    form.is_valid()  # one optional checkbox: any input is a valid choice
    show_photo = form.cleaned_data.get("show_photo", False)
    was_shared = prediction.is_shared
    try:
        services.prediction_share(prediction=prediction, show_photo=show_photo)
    except Refused as exc:
        messages.error(request, exc.message)
        return redirect(prediction)
    shows = "the answer and your photo" if show_photo else "the answer, not your photo"
    if was_shared:
        messages.success(request, f"The link now shows {shows}.")
    else:
        messages.success(request, f"Shared: anyone with the link sees {shows}.")
    return redirect(f"{prediction.get_absolute_url()}#share")


@require_POST
def prediction_unshare(request: HttpRequest, prediction_id) -> HttpResponse:
    prediction = _own_prediction(request, prediction_id)
    if prediction.is_shared:
        services.prediction_unshare(prediction=prediction)
        messages.success(request, "No longer shared: the link does not work any more.")
    return redirect(f"{prediction.get_absolute_url()}#share")


def _shared(token: str) -> Prediction:
    return selectors.prediction_get_shared(token=token)


@never_cache  # an unshared answer must vanish at once, from every cache
@require_GET
def shared_detail(request: HttpRequest, token: str) -> HttpResponse:
    try:
        prediction = _shared(token)
    except Http404:
        return render(request, "classifiers/shared_gone.html", status=404)
    return render(request, "classifiers/shared.html", {"prediction": prediction})


def _shared_file(field_file, content_type: str) -> FileResponse:
    response = private_file_response(field_file, content_type)
    response["Cache-Control"] = "private, no-cache"  # gone as soon as it is unshared
    return response


@require_GET
def shared_image(request: HttpRequest, token: str) -> FileResponse:
    prediction = _shared(token)
    if not prediction.share_photo:
        raise Http404("the photo is not shared")
    return _shared_file(prediction.image, "image/jpeg")


@require_GET
def shared_heatmap(request: HttpRequest, token: str) -> FileResponse:
    prediction = _shared(token)
    if not prediction.share_photo:
        raise Http404("the photo is not shared")
    return _shared_file(prediction.heatmap, "image/png")
