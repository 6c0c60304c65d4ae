import pytest

from classifiers.models import Demo, ModelVersion, ModelVersionStatus, Promotion
from classifiers.predictions import services as prediction_services
from tests.conftest import jpeg_bytes

CHANGELISTS = ["demo", "modelversion", "prediction", "promotion"]


def _other_shipped_version(demo: Demo) -> ModelVersion:
    """A ready version set-up registered for ``demo`` but does not serve."""
    return demo.versions.exclude(pk=demo.promoted_version_id).order_by("number").first()


def _uploaded_version(demo: Demo, *, status: str) -> ModelVersion:
    """A new version of a demo: a copy of the served one, as if uploaded again."""
    served = demo.promoted_version
    return ModelVersion.objects.create(
        demo=demo,
        number=demo.versions.order_by("-number").first().number + 1,
        name=served.name,
        artifact=served.artifact.name,
        sha256=served.sha256,
        labels=served.labels,
        input_spec=served.input_spec,
        metrics=served.metrics,
        status=status,
    )


@pytest.mark.parametrize("model", CHANGELISTS)
def test_it_shows_staff_the_changelists(client, staff, demos, alice, model):
    prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=alice
    )
    client.force_login(staff)
    response = client.get(f"/admin/classifiers/{model}/")
    assert response.status_code == 200
    assert "0 results" not in response.content.decode()


def test_it_lists_the_versions_with_their_accuracy_as_a_percentage_with_its_sample_size(
    client, staff, demos
):
    client.force_login(staff)
    html = client.get("/admin/classifiers/modelversion/").content.decode()
    assert "EfficientNet-Lite0" in html
    assert '<td class="field-accuracy_shown">96.5% (95.0–97.6%, 800 photos)</td>' in html
    assert "0.965" not in html


def test_it_shows_an_old_accuracy_without_its_sample_size_as_a_percentage(client, staff, demos):
    version = demos["cats-vs-dogs"].promoted_version
    version.metrics = {"accuracy": 0.97}
    version.save()
    client.force_login(staff)
    html = client.get("/admin/classifiers/modelversion/").content.decode()
    assert "97.0% (sample size not recorded)" in html
    html = client.get(f"/admin/classifiers/modelversion/{version.pk}/change/").content.decode()
    assert "Accuracy: 97.0% (sample size not recorded)" in html


@pytest.mark.parametrize("model", CHANGELISTS)
def test_it_sends_a_non_staff_user_to_the_admin_login(client, alice, demos, model):
    client.force_login(alice)
    url = f"/admin/classifiers/{model}/"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_it_sends_an_anonymous_visitor_to_the_admin_login(client, demos):
    response = client.get("/admin/classifiers/prediction/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_does_not_show_staff_the_uploaded_photo(client, staff, alice, demos):
    prediction = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=alice
    )
    client.force_login(staff)
    response = client.get(f"/admin/classifiers/prediction/{prediction.id}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert prediction.image.name not in html
    assert f"/predictions/{prediction.id}/image/" not in html


def test_promoting_in_the_admin_goes_through_the_confirmation_page(client, staff, demos):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    other = _other_shipped_version(demo)
    client.force_login(staff)

    response = client.post(
        "/admin/classifiers/modelversion/", {"action": "promote", "_selected_action": [other.pk]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/demos/cats-vs-dogs/versions/{other.number}/promote/"
    demo.refresh_from_db()
    assert demo.promoted_version == served  # nothing changes before the confirmation
    response = client.post(response["Location"], {"why": "cheaper", "confirmed": "yes"})
    assert response.status_code == 302
    demo.refresh_from_db()
    assert demo.promoted_version == other
    promotion = Promotion.objects.get(to_version=other)
    assert (promotion.from_version, promotion.actor, promotion.reason) == (served, staff, "cheaper")
    assert f"Model v{other.number} · {other.name}" in client.get("/").content.decode()


def test_it_promotes_one_version_at_a_time(client, staff, demos):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    others = demo.versions.exclude(pk=served.pk).values_list("pk", flat=True)[:2]
    client.force_login(staff)
    response = client.post(
        "/admin/classifiers/modelversion/",
        {"action": "promote", "_selected_action": list(others)},
        follow=True,
    )
    assert "Promote one version at a time, on its confirmation page." in (response.content.decode())
    demo.refresh_from_db()
    assert demo.promoted_version == served


def test_it_refuses_to_promote_a_version_that_is_not_ready(client, staff, demos):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    invalid = _uploaded_version(demo, status=ModelVersionStatus.INVALID)
    promotions = Promotion.objects.count()
    client.force_login(staff)

    response = client.post(
        "/admin/classifiers/modelversion/",
        {"action": "promote", "_selected_action": [invalid.pk]},
        follow=True,
    )

    assert f"Version {invalid.number} is invalid, not ready" in response.content.decode()
    demo.refresh_from_db()
    assert demo.promoted_version == served
    assert Promotion.objects.count() == promotions


def test_it_does_not_let_a_non_staff_user_promote(client, alice, demos):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    other = _other_shipped_version(demo)
    client.force_login(alice)

    response = client.post(
        "/admin/classifiers/modelversion/", {"action": "promote", "_selected_action": [other.pk]}
    )

    assert response.status_code == 302
    demo.refresh_from_db()
    assert demo.promoted_version == served
    assert not Promotion.objects.filter(to_version=other).exists()


def test_it_keeps_the_promotion_audit_read_only(client, staff, demos):
    promotion = Promotion.objects.get(demo=demos["cats-vs-dogs"])
    client.force_login(staff)
    url = f"/admin/classifiers/promotion/{promotion.pk}/"
    response = client.get(f"{url}change/")
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert Promotion.objects.filter(pk=promotion.pk).exists()


# -- a validated version is what was checked: read-only ----------------------------


def _changed_version_form(version: ModelVersion, **changes) -> dict:
    """Every field of the admin's change form, as the browser would post it."""
    import json

    form = {
        "demo": version.demo_id,
        "number": version.number,
        "name": version.name,
        "labels": json.dumps(version.labels),
        "input_spec": json.dumps(version.input_spec),
        "validated_at_0": "2026-01-01",
        "validated_at_1": "00:00:00",
        "calibration": json.dumps(version.calibration),
        "notes": version.notes,
        "_save": "Save",
    }
    form.update(changes)
    return form


def test_it_shows_a_validated_version_read_only_and_says_a_change_is_a_new_version(
    client, staff, demos
):
    version = demos["dog-breeds"].promoted_version
    client.force_login(staff)
    html = client.get(f"/admin/classifiers/modelversion/{version.pk}/change/").content.decode()
    assert "A change is a new version" in html
    assert 'name="_save"' not in html
    for field in ("labels", "artifact", "input_spec", "calibration"):
        assert f'name="{field}"' not in html
    assert (
        "Add model version" not in client.get("/admin/classifiers/modelversion/").content.decode()
    )


def test_it_refuses_a_changed_label_for_a_served_version_and_the_answer_stays(client, staff, demos):
    import json

    from classifiers.predictions import worker as prediction_worker
    from tests.conftest import example_bytes

    demo = demos["dog-breeds"]
    version = demo.promoted_version
    labels = list(version.labels)
    client.force_login(staff)

    response = client.post(
        f"/admin/classifiers/modelversion/{version.pk}/change/",
        _changed_version_form(version, labels=json.dumps(["HACKED-LABEL"] * len(labels))),
    )

    assert response.status_code == 403
    version.refresh_from_db()
    assert version.labels == labels
    prediction = prediction_services.prediction_create(
        demo=demo, data=example_bytes("golden-retriever.jpg")
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.status == "done", prediction.error
    assert "HACKED-LABEL" not in json.dumps(prediction.result)
    assert "retriever" in prediction.result["label"].lower()


@pytest.mark.parametrize("status", [ModelVersionStatus.VALIDATING, ModelVersionStatus.INVALID])
def test_it_keeps_a_version_being_validated_or_refused_read_only_too(client, staff, demos, status):
    version = _uploaded_version(demos["cats-vs-dogs"], status=status)
    client.force_login(staff)
    response = client.post(
        f"/admin/classifiers/modelversion/{version.pk}/change/",
        _changed_version_form(version, name="renamed"),
    )
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.name != "renamed"


def test_it_still_lets_staff_correct_an_upload_not_yet_validated(client, staff, demos):
    version = _uploaded_version(demos["cats-vs-dogs"], status=ModelVersionStatus.UPLOADED)
    client.force_login(staff)
    response = client.post(
        f"/admin/classifiers/modelversion/{version.pk}/change/",
        _changed_version_form(version, name="renamed"),
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.name == "renamed"


# -- the audit trail is append-only and keeps who acted -------------------------------


def test_it_does_not_let_staff_write_an_audit_row_by_hand(client, staff, demos):
    demo = demos["cats-vs-dogs"]
    before = Promotion.objects.count()
    client.force_login(staff)
    assert client.get("/admin/classifiers/promotion/add/").status_code == 403
    response = client.post(
        "/admin/classifiers/promotion/add/",
        {
            "demo": demo.pk,
            "to_version": demo.promoted_version_id,
            "action": "promote",
            "actor": staff.pk,
            "actor_name": "someone-else",
            "reason": "forged",
        },
    )
    assert response.status_code == 403
    assert Promotion.objects.count() == before
    assert "Add promotion" not in client.get("/admin/classifiers/promotion/").content.decode()


def test_it_lists_who_acted_after_their_account_is_deleted(client, staff, demos, django_user_model):
    from classifiers.versions import services as version_services

    demo = demos["cats-vs-dogs"]
    ada = django_user_model.objects.create_user("ada-ops", is_staff=True)
    promotion = version_services.model_version_promote(
        version=_other_shipped_version(demo), actor=ada, reason="cheaper"
    )
    ada.delete()

    promotion.refresh_from_db()
    assert (promotion.actor, promotion.actor_name) == (None, "ada-ops")
    client.force_login(staff)
    html = client.get("/admin/classifiers/promotion/").content.decode()
    assert "ada-ops" in html
