"""Reads for the API: what a caller may see, on top of classifiers.selectors."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from classifiers import selectors
from classifiers.models import Prediction
from classifiers.visitors import API_VISITOR_PREFIX


def prediction_get_by_id(*, prediction_id, user, visitor_id: str = "") -> Prediction:
    """A prediction the caller may read by its id: their own (account, or this
    browser's anonymous ones), or one uploaded anonymously through the API.

    An anonymous API client has no session, so the unguessable uuid it was
    given is the only proof that it made the upload: whoever holds the id may
    read it. Predictions of an account never become readable this way.
    """
    own = selectors.prediction_list(user=user, visitor_id=visitor_id)
    anonymous_api = Prediction.objects.filter(
        owner__isnull=True, visitor_id__startswith=API_VISITOR_PREFIX
    )
    return get_object_or_404(own | anonymous_api, id=prediction_id)


def prediction_get_own(*, prediction_id, user) -> Prediction:
    """A prediction of the caller's account (to delete): 404 for anyone else's."""
    return get_object_or_404(selectors.prediction_list(user=user), id=prediction_id)
