"""Pages for model versions: the public version history, and the staff pages
that upload, promote, roll back and compare versions and manage evaluation sets."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifiers import selectors
from classifiers.decorators import staff_required
from classifiers.inference.refusals import Refused
from classifiers.models import ComparisonStatus, Demo, ModelVersion, ModelVersionStatus
from classifiers.responses import private_file_response
from classifiers.versions import services
from classifiers.versions.forms import (
    CompareForm,
    EvaluationSetForm,
    ModelVersionUploadForm,
    ReasonForm,
)


def _version_url(version: ModelVersion) -> str:
    return reverse("classifiers:version", args=[version.demo.slug, version.number])


# -- public ------------------------------------------------------------------


@require_GET
def version_history(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    return render(
        request,
        "classifiers/versions/history.html",
        {
            "demo": demo,
            "versions": selectors.model_version_list(demo=demo),
            "promotions": selectors.promotion_list(demo=demo),
        },
    )


# -- staff: versions -----------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def version_new(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    served = demo.promoted_version
    default_labels = served.labels if served else None
    status = 200
    if request.method == "POST":
        form = ModelVersionUploadForm(request.POST, request.FILES, default_labels=default_labels)
        if form.is_valid():
            try:
                version = services.model_version_upload(
                    demo=demo,
                    artifact=form.cleaned_data["artifact"],
                    labels=form.cleaned_data["labels"],
                    input_spec=form.cleaned_data["input_spec"],
                    name=form.cleaned_data["name"],
                    notes=form.cleaned_data["notes"],
                    user=request.user,
                )
            except Refused as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Uploaded as v{version.number}: a worker validates it.")
                return redirect(_version_url(version))
        status = 400
    else:
        spec = served.input_spec if served else {}
        form = ModelVersionUploadForm(initial={"input_spec": json.dumps(spec, indent=2)})
    return render(
        request,
        "classifiers/versions/new.html",
        {"demo": demo, "form": form, "served": served},
        status=status,
    )


def _render_version(
    request: HttpRequest,
    demo: Demo,
    version: ModelVersion,
    *,
    status: int = 200,
    promote_form: ReasonForm | None = None,
    rollback_form: ReasonForm | None = None,
    compare_form: CompareForm | None = None,
) -> HttpResponse:
    is_served = demo.promoted_version_id == version.pk
    return render(
        request,
        "classifiers/versions/detail.html",
        {
            "demo": demo,
            "version": version,
            "is_served": is_served,
            "can_promote": version.status == ModelVersionStatus.READY and not is_served,
            "can_compare": version.status == ModelVersionStatus.READY
            and not is_served
            and demo.is_live,
            "rollback_target": selectors.demo_rollback_target(demo=demo) if is_served else None,
            "in_progress": version.status
            in (ModelVersionStatus.UPLOADED, ModelVersionStatus.VALIDATING),
            "input_spec_json": json.dumps(version.input_spec, sort_keys=True),
            "comparisons": selectors.comparison_list(candidate=version)[:10],
            "promote_form": promote_form or ReasonForm(),
            "rollback_form": rollback_form or ReasonForm(),
            "compare_form": compare_form or CompareForm(),
        },
        status=status,
    )


@staff_required
@require_GET
def version_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    return _render_version(request, demo, version)


@staff_required
@require_POST
def version_promote(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            promotion = services.model_version_promote(
                version=version, actor=request.user, reason=form.cleaned_data["why"]
            )
        except Refused as exc:
            form.add_error(None, f"Not promoted: {exc.message}")
        else:
            if promotion is None:
                messages.info(
                    request,
                    "The gallery is being re-embedded with this network; "
                    "the switch happens when it is done.",
                )
            else:
                messages.success(request, f"v{version.number} is now served.")
            return redirect(_version_url(version))
    return _render_version(request, demo, version, status=400, promote_form=form)


@staff_required
@require_POST
def version_rollback(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    form = ReasonForm(request.POST)
    if form.is_valid():
        if demo.promoted_version_id != version.pk:
            # A second click, or someone else was quicker: never roll back twice.
            form.add_error(None, f"v{version.number} is not the served version; nothing changed.")
        else:
            try:
                promotion = services.model_version_rollback(
                    demo=demo, actor=request.user, reason=form.cleaned_data["why"]
                )
            except Refused as exc:
                form.add_error(None, exc.message)
            else:
                if promotion is None:
                    messages.info(
                        request,
                        "The gallery is being re-embedded with the earlier network; "
                        "the switch happens when it is done.",
                    )
                    return redirect(_version_url(version))
                restored = promotion.to_version
                messages.success(request, f"Rolled back: v{restored.number} is served again.")
                return redirect(_version_url(restored))
    return _render_version(request, demo, version, status=400, rollback_form=form)


@staff_required
@require_POST
def version_compare(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    form = CompareForm(request.POST)
    if form.is_valid():
        try:
            comparison = services.comparison_create(
                candidate=version,
                user=request.user,
                sample_size=form.cleaned_data["sample_size"] or 50,
            )
        except Refused as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("classifiers:comparison", slug=demo.slug, comparison_id=comparison.pk)
    return _render_version(request, demo, version, status=400, compare_form=form)


# -- staff: comparisons and evaluation sets --------------------------------------


@staff_required
@require_GET
def comparison_detail(request: HttpRequest, slug: str, comparison_id: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    comparison = selectors.comparison_get(demo=demo, comparison_id=comparison_id)
    return render(
        request,
        "classifiers/versions/comparison.html",
        {
            "demo": demo,
            "comparison": comparison,
            "disagreements": selectors.comparison_disagreements(comparison=comparison),
            "in_progress": comparison.status in (ComparisonStatus.QUEUED, ComparisonStatus.RUNNING),
        },
    )


@require_GET
def staff_prediction_image(request: HttpRequest, prediction_id) -> FileResponse:
    """An upload's photo for staff comparing versions. To anyone else it does
    not exist (404, like a stranger's prediction), not forbidden."""
    if not (request.user.is_authenticated and request.user.is_staff):
        raise Http404("not found")
    prediction = selectors.prediction_get_for_staff(prediction_id=prediction_id)
    return private_file_response(prediction.image, "image/jpeg")


@staff_required
@require_http_methods(["GET", "POST"])
def evaluation_sets(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    form = EvaluationSetForm()
    status = 200
    if request.method == "POST":
        form = EvaluationSetForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                evaluation_set = services.evaluation_set_create(
                    demo=demo,
                    archive=form.cleaned_data["archive"],
                    name=form.cleaned_data["name"],
                    user=request.user,
                )
            except Refused as exc:
                form.add_error("archive", exc.message)
            else:
                messages.success(
                    request,
                    f"Added “{evaluation_set.name}” ({evaluation_set.photo_count} photos): "
                    "new versions are measured on it.",
                )
                return redirect("classifiers:evaluation-sets", slug=demo.slug)
        status = 400
    return render(
        request,
        "classifiers/versions/evaluation_sets.html",
        {"demo": demo, "form": form, "evaluation_sets": selectors.evaluation_set_list(demo=demo)},
        status=status,
    )
