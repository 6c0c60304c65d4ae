"""Writes for flags: made by anyone who sees an answer, resolved by staff.

Who may see the answer (owner, or anyone with its shared link) is checked by
the views; the allowance per client (throttling.py) too. Here: what a flag
may say, one flag per answer per client, and what staff do with it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from classifiers.inference.evaluation import is_target
from classifiers.inference.refusals import Refused
from classifiers.models import EvaluationSet, Flag, FlagStatus, Prediction, PredictionStatus
from classifiers.versions.services import evaluation_set_add_photo

LABEL_MAX = 120
COMMENT_MAX = 1000


class AlreadyFlagged(Refused):
    code = "already_flagged"
    status = 409


def _same_as_answer(prediction: Prediction, label: str) -> bool:
    if prediction.status == PredictionStatus.REJECTED:
        return not is_target(label)  # it refused, and the flag says to refuse
    answered = (prediction.result.get("label") or "").strip().casefold()
    return label.strip().casefold() == answered


ALREADY_FLAGGED = "You have flagged this answer already: thank you."


def flag_check(*, prediction: Prediction, label: str, client_key: str) -> str:
    """Refuse a flag that cannot be taken, before its client's allowance is
    counted; the label as it will be stored."""
    label = " ".join(label.split())
    if not prediction.is_answered:
        raise Refused("Only an answer can be flagged: wait until the model has answered.")
    if not label:
        raise Refused("Say what it should be.")
    if len(label) > LABEL_MAX:
        raise Refused(f"Keep what it should be to {LABEL_MAX} characters.")
    if _same_as_answer(prediction, label):
        raise Refused("That is what the model answered: choose what it should have said.")
    if Flag.objects.filter(prediction=prediction, client_key=client_key).exists():
        raise AlreadyFlagged(ALREADY_FLAGGED)
    return label


def flag_create(
    *, prediction: Prediction, label: str, comment: str = "", client_key: str, via_share: bool
) -> Flag:
    """Record that ``client_key`` says this answer is wrong and should be ``label``."""
    label = flag_check(prediction=prediction, label=label, client_key=client_key)
    if len(comment) > COMMENT_MAX:
        raise Refused(f"Keep the comment to {COMMENT_MAX} characters.")
    try:
        with transaction.atomic():
            return Flag.objects.create(
                prediction=prediction,
                demo_id=prediction.demo_id,
                model_version_id=prediction.model_version_id,
                answer=prediction.answer[:255],
                label=label,
                comment=comment.strip(),
                client_key=client_key,
                via_share=via_share,
            )
    except IntegrityError as exc:  # one_flag_per_answer_per_client
        raise AlreadyFlagged(ALREADY_FLAGGED) from exc


def _resolve(flag: Flag, *, status: str, actor, **fields) -> None:
    flag.status = status
    flag.resolved_by = actor if actor is not None and actor.is_authenticated else None
    flag.resolved_by_name = actor.get_username() if flag.resolved_by else ""
    flag.resolved_at = timezone.now()
    for name, value in fields.items():
        setattr(flag, name, value)
    flag.save()


def _open_flag(flag: Flag) -> Flag:
    """The flag, locked, if it is still open (staff may act on it at the same time)."""
    row = (
        Flag.objects.select_for_update(of=("self",))
        .select_related("demo", "prediction")
        .get(pk=flag.pk)
    )
    if row.status != FlagStatus.OPEN:
        raise Refused(f"This flag was {row.get_status_display()} already.")
    return row


def flag_add_to_evaluation_set(*, flag: Flag, label: str, actor=None) -> EvaluationSet:
    """Copy the flagged photo into the demo's evaluation set (the one
    validation uses) labelled ``label``, and mark the flag resolved."""
    with transaction.atomic():
        flag = _open_flag(flag)
        prediction = flag.prediction
        if prediction is None:
            raise Refused("Its owner has deleted this upload, so its photo is gone: dismiss it.")
        try:
            with prediction.image.open("rb") as f:
                photo = f.read()
        except (OSError, ValueError) as exc:
            raise Refused("This upload's photo is gone: dismiss the flag.") from exc
        evaluation_set = evaluation_set_add_photo(
            demo=flag.demo,
            label=label,
            photo=photo,
            # By content: the same photo is never in a set twice.
            name=f"flagged-{prediction.image_sha256[:16]}",
            user=actor if actor is not None and actor.is_authenticated else None,
        )
        _resolve(
            flag,
            status=FlagStatus.ADDED,
            actor=actor,
            resolved_label=label.strip(),
            evaluation_set=evaluation_set,
        )
    return evaluation_set


def flag_dismiss(*, flag: Flag, actor=None) -> None:
    with transaction.atomic():
        _resolve(_open_flag(flag), status=FlagStatus.DISMISSED, actor=actor)
