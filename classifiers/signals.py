from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from classifiers.predictions.services import predictions_adopt
from classifiers.visitors import VISITOR_SESSION_KEY


@receiver(user_logged_in)
def adopt_anonymous_predictions(sender, request, user, **kwargs) -> None:
    # The session data (not its key, which login rotates) still holds the
    # visitor id of the predictions made before logging in.
    if request is not None and hasattr(request, "session"):
        predictions_adopt(user=user, visitor_id=request.session.get(VISITOR_SESSION_KEY, ""))
