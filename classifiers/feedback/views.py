"""Flag pages: "this answer is wrong" (for the owner, and for visitors of a
shared answer), and the staff's review of flags per demo."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifiers import selectors
from classifiers.clients import client_key
from classifiers.decorators import staff_required
from classifiers.feedback import selectors as flag_selectors
from classifiers.feedback import services
from classifiers.feedback.forms import FlagForm, FlagResolveForm
from classifiers.feedback.throttling import flag_allowance_take
from classifiers.inference.refusals import Refused
from classifiers.models import FlagStatus, Prediction
from classifiers.visitors import visitor_id

# -- anyone who sees an answer -------------------------------------------------


@require_http_methods(["GET", "POST"])
def prediction_flag(request: HttpRequest, prediction_id) -> HttpResponse:
    """The owner's answer (a stranger gets 404, as for the answer itself)."""
    prediction = selectors.prediction_get(
        prediction_id=prediction_id, user=request.user, visitor_id=visitor_id(request)
    )
    return _flag(
        request,
        prediction,
        back=prediction.get_absolute_url(),
        action=reverse("classifiers:prediction-flag", args=[prediction.id]),
        via_share=False,
    )


@require_http_methods(["GET", "POST"])
def shared_flag(request: HttpRequest, token: str) -> HttpResponse:
    """A shared answer, flagged by whoever has its link (no account needed)."""
    prediction = selectors.prediction_get_shared(token=token)
    return _flag(
        request,
        prediction,
        back=prediction.get_shared_url(),
        action=reverse("classifiers:shared-flag", args=[token]),
        via_share=True,
    )


def _flag(
    request: HttpRequest, prediction: Prediction, *, back: str, action: str, via_share: bool
) -> HttpResponse:
    """GET: the form on a page of its own (the answer's page has it inline).
    POST: a valid flag goes back to the answer with thanks; anything else
    shows the form again with the reason and its status."""
    choices = flag_selectors.correction_choices(demo=prediction.demo)
    form = FlagForm(request.POST or None, choices=choices, auto_id="flag-%s")
    status, retry_after = 200, None
    if request.method == "POST":
        client = client_key(request)
        try:
            if not form.is_valid():
                raise Refused("Please correct the form below.", code="invalid")
            services.flag_check(
                prediction=prediction, label=form.cleaned_data["label"], client_key=client
            )
            flag_allowance_take(request)
            services.flag_create(
                prediction=prediction,
                label=form.cleaned_data["label"],
                comment=form.cleaned_data["comment"],
                client_key=client,
                via_share=via_share,
            )
        except Refused as exc:
            if exc.code != "invalid":  # the form shows its own errors
                form.add_error(None, exc.message)
            status, retry_after = exc.status, exc.retry_after
        else:
            messages.success(
                request,
                "Thank you: the site's staff will look at it, and may add the photo to the "
                "photos new model versions are measured on.",
            )
            return redirect(f"{back}#flag")
    response = render(
        request,
        "classifiers/feedback/flag.html",
        {"prediction": prediction, "form": form, "back": back, "action": action},
        status=status,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


# -- staff -------------------------------------------------------------------------

STATUS_FILTERS = {
    "open": FlagStatus.OPEN,
    "added": FlagStatus.ADDED,
    "dismissed": FlagStatus.DISMISSED,
}


def _review_url(slug: str, status: str = "open") -> str:
    url = reverse("classifiers:staff-flags", args=[slug])
    return url if status == "open" else f"{url}?{urlencode({'status': status})}"


@staff_required
@require_GET
def flags_overview(request: HttpRequest) -> HttpResponse:
    """Every demo with its open flags: where to start reviewing."""
    return render(
        request,
        "classifiers/feedback/overview.html",
        {"demos": flag_selectors.demos_with_flag_counts()},
    )


@staff_required
@require_GET
def flags_review(request: HttpRequest, slug: str) -> HttpResponse:
    demo = selectors.demo_get(slug=slug)
    status = request.GET.get("status", "open")
    if status not in STATUS_FILTERS:
        status = "open"
    choices = flag_selectors.correction_choices(demo=demo)
    flags = list(flag_selectors.flag_list(demo=demo, status=STATUS_FILTERS[status])[:200])
    texts = dict(choices)
    for flag in flags:
        flag.label_text = texts.get(flag.label, flag.label)  # "neither": "not a cat or dog"
        # Pre-filled with what the flag says, when it is one of the answers.
        initial = flag.label if not choices or flag.label in texts else ""
        flag.resolve_form = FlagResolveForm(
            choices=choices, initial={"label": initial}, auto_id=f"flag{flag.pk}-%s"
        )
    return render(
        request,
        "classifiers/feedback/review.html",
        {
            "demo": demo,
            "flags": flags,
            "status": status,
            "demos": flag_selectors.demos_with_flag_counts(),
            "evaluation_set": selectors.evaluation_set_list(demo=demo).first(),
        },
    )


@staff_required
@require_POST
def flag_add(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = flag_selectors.flag_get(flag_id=flag_id)
    form = FlagResolveForm(request.POST, choices=flag_selectors.correction_choices(demo=flag.demo))
    if not form.is_valid():
        errors = " ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, f"Not added: {errors}")
        return redirect(_review_url(flag.demo.slug))
    try:
        evaluation_set = services.flag_add_to_evaluation_set(
            flag=flag, label=form.cleaned_data["label"], actor=request.user
        )
    except Refused as exc:
        messages.error(request, f"Not added: {exc.message}")
    else:
        messages.success(
            request,
            f"Added the photo to “{evaluation_set.name}” as “{form.cleaned_data['label']}”: "
            f"it holds {evaluation_set.photo_count} photo{pluralize(evaluation_set.photo_count)} "
            "now.",
        )
    return redirect(_review_url(flag.demo.slug))


@staff_required
@require_POST
def flag_dismiss(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = flag_selectors.flag_get(flag_id=flag_id)
    try:
        services.flag_dismiss(flag=flag, actor=request.user)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Flag dismissed.")
    return redirect(_review_url(flag.demo.slug))
