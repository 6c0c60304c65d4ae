"""Template tags of shared answers and flags."""

from __future__ import annotations

from django import template
from django.conf import settings

from classifiers.clients import client_key
from classifiers.feedback import selectors as flag_selectors
from classifiers.feedback.forms import FlagForm
from classifiers.models import Prediction

register = template.Library()


@register.simple_tag(takes_context=True)
def absolute_url(context, path: str) -> str:
    """A full URL (scheme and host) for a link to paste or an Open Graph tag."""
    return context["request"].build_absolute_uri(path)


@register.simple_tag
def flag_form(prediction: Prediction) -> FlagForm:
    """An empty flag form with the demo's answers to choose from."""
    choices = flag_selectors.correction_choices(demo=prediction.demo)
    return FlagForm(choices=choices, auto_id="flag-%s")


@register.simple_tag(takes_context=True)
def flagged_by_me(context, prediction: Prediction) -> bool:
    """Whether the person looking has flagged this answer already."""
    return flag_selectors.flag_exists(
        prediction=prediction, client_key=client_key(context["request"])
    )


@register.simple_tag
def anonymous_retention_days() -> int:
    """Days an upload made without an account is kept (and its link with it)."""
    return settings.ANONYMOUS_RETENTION_DAYS
