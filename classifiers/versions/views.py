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
from classifiers.versions.figures import FEW_PHOTOS, figures_of, is_share
from classifiers.versions.forms import (
    CompareForm,
    EvaluationSetForm,
    ModelVersionUploadForm,
    PromoteForm,
    ReasonForm,
)


def _version_url(version: ModelVersion) -> str:
    return reverse("classifiers:version", args=[version.demo.slug, version.number])


# -- public ------------------------------------------------------------------


@require_GET
def version_history(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    # Staff see every upload, failed ones too; the public what was shipped or served.
    if request.user.is_staff:
        versions = selectors.model_version_list(demo=demo)
    else:
        versions = selectors.model_version_list_public(demo=demo)
    return render(
        request,
        "classifiers/versions/history.html",
        {
            "demo": demo,
            "versions": versions,
            "charted": [v for v in versions if v.status == ModelVersionStatus.READY],
            "promotions": selectors.promotion_list(demo=demo),
        },
    )


# -- staff: versions -----------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def version_new(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    served = demo.promoted_version
    form_options = {
        "spec_form": demo.pipeline_class.spec_form,
        "default_labels": served.labels if served else None,
    }
    status = 200
    if request.method == "POST":
        form = ModelVersionUploadForm(request.POST, request.FILES, **form_options)
        if form.is_valid():
            try:
                version = services.model_version_upload(
                    demo=demo,
                    artifact=form.cleaned_data["artifact"],
                    labels=form.cleaned_data["labels"],
                    input_spec=form.cleaned_data["spec"],
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
        # Nothing is copied from the served version: the new network may take
        # other photos (the size is read from the model when it is validated).
        form = ModelVersionUploadForm(**form_options)
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
    rollback_form: ReasonForm | None = None,
    compare_form: CompareForm | None = None,
    action_error: str = "",
) -> HttpResponse:
    is_served = demo.promoted_version_id == version.pk
    ready = version.status == ModelVersionStatus.READY
    return render(
        request,
        "classifiers/versions/detail.html",
        {
            "demo": demo,
            "version": version,
            "is_served": is_served,
            "can_promote": ready and not is_served,
            "can_compare": ready and not is_served and demo.is_live,
            "can_revalidate": version.status
            in (ModelVersionStatus.READY, ModelVersionStatus.INVALID)
            and not is_served
            and not version.is_removed,
            "can_remove": version.status == ModelVersionStatus.INVALID and not version.is_removed,
            "evaluation_set": selectors.evaluation_set_list(demo=demo).first(),
            "rollback_target": selectors.demo_rollback_target(demo=demo) if is_served else None,
            "in_progress": version.status
            in (ModelVersionStatus.UPLOADED, ModelVersionStatus.VALIDATING),
            "input_spec_json": json.dumps(version.input_spec, sort_keys=True),
            # How often it is right was measured (a time alone is not that).
            "measured": any(is_share(f) for f in figures_of(version.metrics)),
            "size_from_model": demo.pipeline_class.spec_form == "image"
            and "size" not in version.input_spec,
            "comparisons": selectors.comparison_list(candidate=version)[:10],
            "rollback_form": rollback_form or ReasonForm(),
            "compare_form": compare_form or CompareForm(),
            "action_error": action_error,
        },
        status=status,
    )


@staff_required
@require_GET
def version_detail(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    return _render_version(request, demo, version)


def _render_promote(
    request: HttpRequest, demo: Demo, version: ModelVersion, form: PromoteForm, *, status=200
) -> HttpResponse:
    try:
        services.model_version_check_promotable(version=version)
        refusal = ""
    except Refused as exc:
        refusal = exc.message
    return render(
        request,
        "classifiers/versions/promote.html",
        {
            "demo": demo,
            "version": version,
            "review": selectors.promotion_review(version=version),
            "form": form,
            "refusal": refusal,
            "few_photos": FEW_PHOTOS,
        },
        status=status,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def version_promote(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """GET: the confirmation page (figures, sample sizes, disagreements with the
    served version, warnings). POST from that page: promote."""
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    if request.method == "GET":
        return _render_promote(request, demo, version, PromoteForm())
    form = PromoteForm(request.POST)
    if request.POST.get("confirmed") != "yes":
        try:
            services.model_version_check_promotable(version=version)
        except Refused as exc:
            form.is_valid()
            form.add_error(None, f"Not promoted: {exc.message}")
            return _render_promote(request, demo, version, form, status=400)
        # Not from the confirmation page (an old form, a script): review first.
        return _render_promote(
            request, demo, version, PromoteForm(initial={"why": request.POST.get("why", "")})
        )
    if form.is_valid():
        review = selectors.promotion_review(version=version)
        if review.strong and not form.cleaned_data["accept_risks"]:
            form.add_error(
                "accept_risks",
                "Tick “serve it anyway” to promote a version with the warnings above.",
            )
        else:
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
    return _render_promote(request, demo, version, form, status=400)


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
def version_revalidate(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    try:
        services.model_version_revalidate(version=version, user=request.user)
    except Refused as exc:
        return _render_version(request, demo, version, status=400, action_error=exc.message)
    messages.success(request, f"v{version.number} is queued to be validated again.")
    return redirect(_version_url(version))


@staff_required
@require_http_methods(["GET", "POST"])
def version_remove(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """GET: what removing does, and a button; POST: remove."""
    demo = selectors.demo_get(slug=slug)
    version = selectors.model_version_get(demo=demo, number=number)
    error, status = "", 200
    if request.method == "POST":
        try:
            services.model_version_remove(version=version, user=request.user)
        except Refused as exc:
            error, status = exc.message, 400
        else:
            messages.success(
                request, f"v{version.number} was removed: its file is deleted, its record kept."
            )
            return redirect("classifiers:versions", slug=demo.slug)
    return render(
        request,
        "classifiers/versions/remove.html",
        {"demo": demo, "version": version, "error": error},
        status=status,
    )


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
