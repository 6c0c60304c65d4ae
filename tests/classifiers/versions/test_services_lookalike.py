"""Promoting a new face-embedding model re-embeds the gallery before switching."""

import pytest

from classifiers.gallery import services as gallery_services
from classifiers.gallery.selectors import clear_gallery_cache
from classifiers.models import FaceEmbedding, ModelVersion
from classifiers.versions import services as version_services
from classifiers.versions import worker as version_worker
from tests.classifiers.faces_data import NO_FACE_PHOTO


@pytest.fixture
def lookalike(demos):
    clear_gallery_cache()
    yield demos["celebrity-lookalike"]
    clear_gallery_cache()


def _second_version(served: ModelVersion) -> ModelVersion:
    fields = {f.name: getattr(served, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    return ModelVersion.objects.create(**{**fields, "number": served.number + 1})


def test_promotion_waits_for_the_gallery_to_be_embedded_by_the_new_model(
    lookalike, staff, django_capture_on_commit_callbacks
):
    served = lookalike.promoted_version
    person = gallery_services.person_get_or_create(name="Ada Lovelace")[0]
    gallery_services.person_photo_add(
        person=person, data=NO_FACE_PHOTO.read_bytes(), embed_now=True
    )
    candidate = _second_version(served)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        promotion = version_services.model_version_promote(
            version=candidate, actor=staff, reason="new embedding"
        )
    assert promotion is None  # nothing switched yet: the gallery is not embedded
    assert len(callbacks) == 1
    lookalike.refresh_from_db()
    assert lookalike.promoted_version == served

    # What the queued worker task does:
    version_worker.gallery_embed_then_promote(
        version_id=candidate.pk, actor_id=staff.pk, reason="new embedding"
    )
    lookalike.refresh_from_db()
    assert lookalike.promoted_version == candidate
    assert FaceEmbedding.objects.filter(model_version=candidate).count() == 1
    last = lookalike.promotions.first()
    assert (last.from_version, last.to_version, last.actor) == (served, candidate, staff)


def test_a_version_whose_gallery_is_embedded_is_promoted_at_once(lookalike, staff):
    candidate = _second_version(lookalike.promoted_version)  # the gallery is empty
    promotion = version_services.model_version_promote(version=candidate, actor=staff)
    assert promotion is not None
    lookalike.refresh_from_db()
    assert lookalike.promoted_version == candidate


def test_promoting_a_look_alike_version_in_the_admin_embeds_the_gallery_first(
    client, lookalike, staff, django_capture_on_commit_callbacks
):
    """The admin's action once switched at once, serving a gallery with no
    embeddings for the new network; it now leads to the confirmation page,
    which goes through the same service."""
    served = lookalike.promoted_version
    person = gallery_services.person_get_or_create(name="Ada Lovelace")[0]
    gallery_services.person_photo_add(
        person=person, data=NO_FACE_PHOTO.read_bytes(), embed_now=True
    )
    candidate = _second_version(served)
    client.force_login(staff)

    response = client.post(
        "/admin/classifiers/modelversion/",
        {"action": "promote", "_selected_action": [candidate.pk]},
    )
    confirmation = response["Location"]
    assert confirmation == f"/demos/{lookalike.slug}/versions/{candidate.number}/promote/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            confirmation,
            {"why": "new network", "confirmed": "yes", "accept_risks": "on"},
            follow=True,
        )

    assert "The gallery is being re-embedded with this network" in response.content.decode()
    lookalike.refresh_from_db()
    assert lookalike.promoted_version == served
    assert len(callbacks) == 1  # the worker task that embeds, then switches
    assert not FaceEmbedding.objects.filter(model_version=candidate).exists()


def test_a_look_alike_rollback_also_waits_for_the_gallery(
    lookalike, staff, django_capture_on_commit_callbacks
):
    first = lookalike.promoted_version
    candidate = _second_version(first)
    version_services.model_version_promote(version=candidate, actor=staff)  # empty gallery
    person = gallery_services.person_get_or_create(name="Ada Lovelace")[0]
    photo = gallery_services.person_photo_add(
        person=person, data=NO_FACE_PHOTO.read_bytes(), embed_now=True
    ).photo
    # Embedded for the served candidate only: the earlier network has not seen it.
    assert list(photo.embeddings.values_list("model_version", flat=True)) == [candidate.pk]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert version_services.model_version_rollback(demo=lookalike, actor=staff) is None
    lookalike.refresh_from_db()
    assert lookalike.promoted_version == candidate
    assert len(callbacks) == 1


def test_the_audit_keeps_the_promoters_name_if_the_account_goes_while_embedding(
    lookalike, staff, django_capture_on_commit_callbacks, monkeypatch
):
    from classifiers.versions import tasks

    sent = []
    monkeypatch.setattr(tasks.embed_gallery_and_promote, "delay", lambda *a: sent.append(a))
    person = gallery_services.person_get_or_create(name="Ada Lovelace")[0]
    gallery_services.person_photo_add(
        person=person, data=NO_FACE_PHOTO.read_bytes(), embed_now=True
    )
    candidate = _second_version(lookalike.promoted_version)
    with django_capture_on_commit_callbacks(execute=True):
        version_services.model_version_promote(version=candidate, actor=staff, reason="new")
    staff.delete()  # while the worker embeds

    tasks.embed_gallery_and_promote(*sent[0])  # what the worker runs
    last = lookalike.promotions.first()
    assert (last.to_version, last.actor, last.actor_name) == (candidate, None, "staff")
