"""The public version history and the staff pages that upload, promote and roll back."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import (
    Comparison,
    ModelVersion,
    ModelVersionStatus,
    Promotion,
)
from classifiers.templatetags.figures import figure_text
from classifiers.versions import services as version_services
from classifiers.versions import worker as version_worker

SPEC = {"preprocessing": "lite", "crop": 0.875, "resample": "bicubic", "tta": "none"}


@pytest.fixture
def demo(demos):
    """cats-vs-dogs as set up: v1-v6 ready, v3 served."""
    return demos["cats-vs-dogs"]


def _copy_version(version, **changes) -> ModelVersion:
    fields = {f.name: getattr(version, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    fields["number"] = version.demo.versions.order_by("-number").first().number + 1
    fields.update(changes)
    return ModelVersion.objects.create(**fields)


def _version(demo, number: int) -> ModelVersion:
    return demo.versions.get(number=number)


def _upload_form(**changes) -> dict:
    form = {
        "artifact": SimpleUploadedFile("lite0-retrained.keras", b"PK\x03\x04 stored, not opened"),
        "labels": SimpleUploadedFile("labels.json", json.dumps(["cat", "dog"] * 500).encode()),
        "preprocessing": "lite",
        "crop": "0.875",
        "resample": "bicubic",
        "tta": "none",
        "name": "Lite0 retrained",
        "notes": "Fine-tuned on more cats.",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _staff_urls(demo) -> list[tuple[str, str]]:
    comparison = Comparison.objects.create(
        candidate=_version(demo, 1), baseline=demo.promoted_version
    )
    base = f"/demos/{demo.slug}"
    return [
        ("get", f"{base}/versions/new/"),
        ("post", f"{base}/versions/new/"),
        ("get", f"{base}/versions/1/"),
        ("get", f"{base}/versions/1/promote/"),
        ("post", f"{base}/versions/1/promote/"),
        ("post", f"{base}/versions/1/validate/"),
        ("get", f"{base}/versions/1/remove/"),
        ("post", f"{base}/versions/1/remove/"),
        ("post", f"{base}/versions/3/rollback/"),
        ("post", f"{base}/versions/1/compare/"),
        ("get", f"{base}/comparisons/{comparison.pk}/"),
        ("get", f"{base}/evaluation-sets/"),
        ("post", f"{base}/evaluation-sets/"),
    ]


# -- the public history ----------------------------------------------------------


def test_it_shows_every_version_with_its_figures_to_anyone(client, demo):
    response = client.get("/demos/cats-vs-dogs/versions/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Model card" in html
    for name in ("EfficientNet-Lite0", "EfficientNet-Lite1", "EfficientNet-Lite2", "Ensemble"):
        assert name in html
    assert '<tr class="served">' in html  # v3, the served one
    v1 = _version(demo, 1).metrics["figures"][0]
    value, detail = figure_text(v1)[:-1].split(" (", 1)  # e.g. 96.5% (95.0–97.6%, 800 photos)
    assert f'<td class="figure-cell">{value}<br><span class="figure-detail">{detail}</span>' in html
    assert re.search(
        r"\d+\.\d%<br><span class=\"figure-detail\">\d+\.\d–\d+\.\d%, 800 photos", html
    )
    assert '<th scope="col">Time to answer one photo (median)</th>' in html
    assert 'class="thin-warning"' not in html  # every shipped figure is counted on hundreds
    assert "/versions/1/" not in html  # staff pages are not linked for the public


def test_it_names_the_sets_the_figures_were_measured_on_in_words(client, demo):
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    versions = html[html.index('id="versions"') : html.index('id="audit"')]
    assert "800 photos from the Kaggle dogs-vs-cats test set" in versions
    assert "150 photos of other things" in versions
    for internal in ("shared/data", "calibration/", "catsdogs-kaggle", "labels.csv"):
        assert internal not in html


def test_it_shows_the_audit_trail(client, demo, staff):
    version_services.model_version_promote(
        version=_version(demo, 1), actor=staff, reason="cheaper to run"
    )
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    audit = html[html.index('id="audit"') :]
    assert "nothing → v3" in audit
    assert "shipped default at set-up" in audit
    assert "v3 → v1" in audit
    assert "cheaper to run" in audit
    assert "<td>staff</td>" in audit
    assert audit.index("v3 → v1") < audit.index("nothing → v3")  # newest first


def test_it_shows_the_public_that_staff_acted_but_not_who(client, demo, django_user_model):
    ada = django_user_model.objects.create_user("ada-ops", is_staff=True)
    hers = _copy_version(
        demo.promoted_version, created_by=ada, created_by_name="ada-ops", name="Lite0 by Ada"
    )
    version_services.model_version_promote(version=hers, actor=ada, reason="cheaper")

    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()

    assert "ada-ops" not in html
    versions = html[html.index('id="versions"') : html.index('id="audit"')]
    audit = html[html.index('id="audit"') :]
    assert '<span class="figure-detail">staff</span>' in versions  # v7, uploaded by her
    assert '<span class="figure-detail">set-up</span>' in versions  # the shipped versions
    assert "<td>staff</td>" in audit  # her promotion
    assert "<td>set-up</td>" in audit  # the shipped default


def test_it_shows_staff_who_acted_even_after_the_account_is_deleted(
    client, demo, staff, django_user_model
):
    ada = django_user_model.objects.create_user("ada-ops", is_staff=True)
    version_services.model_version_promote(version=_version(demo, 1), actor=ada, reason="cheaper")
    version_services.model_version_rollback(demo=demo, actor=ada, reason="worse")
    ada.delete()

    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    audit = html[html.index('id="audit"') :]
    assert audit.count("<td>ada-ops</td>") == 2  # her promotion and her rollback
    assert "<td>set-up</td>" in audit  # only the shipped default was set-up's


def test_it_shows_an_invalid_version_and_why_to_staff_only(client, demo, staff):
    _copy_version(
        demo.promoted_version,
        name="Broken upload",
        created_by=staff,
        created_by_name="staff",
        status=ModelVersionStatus.INVALID,
        status_reason="The model produced NaN or infinite outputs on an example.",
    )
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    assert "Broken upload" not in html
    assert "invalid" not in html
    assert "NaN" not in html
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    assert "Broken upload" in html
    assert "invalid</span>" in html
    assert "The model produced NaN or infinite outputs on an example." in html
    assert 'href="/demos/cats-vs-dogs/versions/7/"' in html


def test_it_hides_staff_test_uploads_from_the_public_until_they_are_served(client, demo, staff):
    test_upload = _copy_version(
        _version(demo, 1), name="Ada's experiment", created_by=staff, created_by_name="staff"
    )
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    assert "Ada's experiment" not in html  # escaped or not: absent
    assert "Ada&#x27;s experiment" not in html
    assert "EfficientNet-Lite1" in html  # shipped, never served: still listed

    client.force_login(staff)
    assert "Ada&#x27;s experiment" in client.get("/demos/cats-vs-dogs/versions/").content.decode()
    client.logout()

    version_services.model_version_promote(version=test_upload, actor=staff, reason="better")
    version_services.model_version_rollback(demo=demo, actor=staff, reason="worse")
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    versions = html[html.index('id="versions"') : html.index('id="audit"')]
    assert "Ada&#x27;s experiment" in versions  # the public was served it once


def test_it_is_linked_from_the_demo_page_and_the_gallery(client, demo):
    link = 'href="/demos/cats-vs-dogs/versions/"'
    assert link in client.get("/demos/cats-vs-dogs/").content.decode()
    assert link in client.get("/").content.decode()


def test_it_404s_for_an_unknown_demo(client, demos):
    assert client.get("/demos/no-such-demo/versions/").status_code == 404


# -- who may use the staff pages ----------------------------------------------------


def test_it_forbids_the_staff_pages_to_other_users(client, demo, alice):
    client.force_login(alice)
    for method, url in _staff_urls(demo):
        response = getattr(client, method)(url, {"why": "curious"} if method == "post" else None)
        assert response.status_code == 403, url
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3
    assert demo.versions.count() == 6


def test_it_sends_anonymous_visitors_to_log_in(client, demo):
    for method, url in _staff_urls(demo):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/accounts/login/?next={url}"


# -- upload ------------------------------------------------------------------------


def test_it_asks_what_the_model_cannot_tell_and_copies_nothing_from_the_served_version(
    client, demo, staff
):
    client.force_login(staff)
    response = client.get("/demos/cats-vs-dogs/versions/new/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "260" not in html  # the served v3 (Lite2) takes 260x260: not a default here
    assert "Prefilled" not in html
    assert 'name="input_spec"' not in html
    assert '<select name="preprocessing"' in html
    assert '<option value="" selected>— choose —</option>' in html
    assert 'name="crop"' in html and 'value="0.875"' not in html
    assert 'name="size"' in html
    assert "Leave empty: it is read from the model&#x27;s input shape." in html


def test_it_asks_the_look_alike_demo_for_its_fitted_spec_as_json(client, demos, staff):
    client.force_login(staff)
    html = client.get("/demos/celebrity-lookalike/versions/new/").content.decode()
    assert 'name="input_spec"' in html
    assert 'name="preprocessing"' not in html
    served = demos["celebrity-lookalike"].promoted_version
    assert str(served.input_spec["score"]["c0"]) not in html  # not copied either


def test_it_leaves_the_size_to_the_model_when_none_is_given(client, demo, staff):
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/new/", _upload_form())
    assert response.status_code == 302
    assert "size" not in _version(demo, 7).input_spec
    html = client.get(response["Location"]).content.decode()
    assert "(size: read from the model when validated)" in html


def test_it_keeps_a_size_given_for_a_model_that_takes_any_size(client, demo, staff):
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/new/", _upload_form(size="300"))
    assert response.status_code == 302
    assert _version(demo, 7).input_spec == {**SPEC, "size": 300}


def test_it_stores_an_upload_and_queues_its_validation(
    client, demo, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/demos/cats-vs-dogs/versions/new/", _upload_form())
    assert response.status_code == 302
    assert response["Location"] == "/demos/cats-vs-dogs/versions/7/"
    assert len(callbacks) == 1  # the validation task, sent after commit
    version = _version(demo, 7)
    assert (version.status, version.name, version.created_by) == (
        "uploaded",
        "Lite0 retrained",
        staff,
    )
    assert version.input_spec == SPEC  # the size is read from the model by the worker
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3  # nothing served changes

    html = client.get(response["Location"]).content.decode()
    assert "Status: uploaded" in html
    assert '<meta http-equiv="refresh" content="3">' in html
    assert version.sha256 in html
    assert "Promote v7" not in html


def test_it_reuses_the_served_labels_when_none_are_uploaded(client, demo, staff):
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/new/", _upload_form(labels=None))
    assert response.status_code == 302
    assert _version(demo, 7).labels == demo.promoted_version.labels


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": "5"}, "Ensure this value is greater than or equal to 32."),
        ({"crop": "1.5"}, "The crop is a number from 0.5 to 1.0, or “none”."),
        ({"crop": None}, "Say how the photos were cropped in training"),
        ({"preprocessing": None}, "Say how the network expects its pixels"),
        ({"preprocessing": "magic"}, "Select a valid choice."),
        ({"labels": SimpleUploadedFile("l.json", b"[oops")}, "The labels file is not valid JSON"),
        ({"labels": SimpleUploadedFile("l.json", b"[1, 2]")}, "Labels must be a JSON list"),
        ({"artifact": None}, "This field is required."),
    ],
)
def test_it_shows_why_an_upload_is_refused_and_stores_nothing(
    client, demo, staff, changes, message
):
    client.force_login(staff)
    response = client.post("/demos/cats-vs-dogs/versions/new/", _upload_form(**changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert demo.versions.count() == 6


def test_it_shows_the_verdict_of_the_validation(client, demo, staff):
    client.force_login(staff)
    response = client.post(
        "/demos/cats-vs-dogs/versions/new/",
        _upload_form(artifact=SimpleUploadedFile("old.h5", b"\x89HDF\r\n\x1a\n")),
    )
    version_worker.model_version_validate(version_id=_version(demo, 7).pk)  # the worker

    html = client.get(response["Location"]).content.decode()
    assert "Status: invalid" in html
    assert "Only .keras files are accepted for this demo" in html
    assert "http-equiv" not in html  # no more refreshing
    assert "Promote v7" not in html
    assert "Only a ready version can be compared and promoted." in html


def test_it_404s_for_an_unknown_version(client, demo, staff):
    client.force_login(staff)
    assert client.get("/demos/cats-vs-dogs/versions/99/").status_code == 404


# -- promote and roll back ----------------------------------------------------------


def test_it_promotes_a_ready_version_and_logs_who_and_why(client, demo, staff):
    candidate = _copy_version(_version(demo, 1))
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "Promote v7…" in html
    assert "Replaces the served v3" in html
    html = client.get("/demos/cats-vs-dogs/versions/7/promote/").content.decode()
    assert "Serve v7 · EfficientNet-Lite0?" in html  # the confirmation page

    response = client.post(
        "/demos/cats-vs-dogs/versions/7/promote/", {"why": "twice as fast", "confirmed": "yes"}
    )
    assert response.status_code == 302
    demo.refresh_from_db()
    assert demo.promoted_version == candidate
    promotion = Promotion.objects.filter(demo=demo).first()
    assert (promotion.action, promotion.from_version.number, promotion.to_version) == (
        "promote",
        3,
        candidate,
    )
    assert (promotion.actor, promotion.reason) == (staff, "twice as fast")

    html = client.get(response["Location"]).content.decode()
    assert "v7 is now served." in html
    assert "Roll back to v3" in html
    assert "Serving model v7" in client.get("/demos/cats-vs-dogs/").content.decode()


def test_it_needs_a_reason_to_promote(client, demo, staff):
    _copy_version(_version(demo, 1))
    client.force_login(staff)
    response = client.post(
        "/demos/cats-vs-dogs/versions/7/promote/", {"why": "", "confirmed": "yes"}
    )
    assert response.status_code == 400
    assert "Say why: it is kept in the audit trail." in response.content.decode()
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3


def test_it_refuses_to_promote_an_invalid_version(client, demo, staff):
    _copy_version(demo.promoted_version, status=ModelVersionStatus.INVALID, status_reason="NaN")
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "Promote v7" not in html

    response = client.post("/demos/cats-vs-dogs/versions/7/promote/", {"why": "yolo"})
    assert response.status_code == 400
    assert "Not promoted: Version 7 is invalid, not ready." in response.content.decode()
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3
    assert Promotion.objects.filter(demo=demo).count() == 1  # set-up's only


def test_it_rolls_back_to_the_version_served_before(client, demo, staff):
    candidate = _copy_version(_version(demo, 1))
    version_services.model_version_promote(version=candidate, actor=staff, reason="faster")
    client.force_login(staff)

    response = client.post("/demos/cats-vs-dogs/versions/7/rollback/", {"why": "misses cats"})
    assert response.status_code == 302
    assert response["Location"] == "/demos/cats-vs-dogs/versions/3/"
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3
    rollback = Promotion.objects.filter(demo=demo).first()
    assert (rollback.action, rollback.from_version, rollback.to_version.number) == (
        "rollback",
        candidate,
        3,
    )
    assert (rollback.actor, rollback.reason) == (staff, "misses cats")
    assert "Rolled back: v3 is served again." in client.get(response["Location"]).content.decode()
    audit = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    assert "<td>rollback</td>" in audit
    assert "v7 → v3" in audit


def test_a_second_click_on_roll_back_changes_nothing(client, demo, staff):
    candidate = _copy_version(_version(demo, 1))
    version_services.model_version_promote(version=candidate, actor=staff, reason="faster")
    client.force_login(staff)
    client.post("/demos/cats-vs-dogs/versions/7/rollback/", {"why": "misses cats"})

    response = client.post("/demos/cats-vs-dogs/versions/7/rollback/", {"why": "misses cats"})
    assert response.status_code == 400
    assert "v7 is not the served version; nothing changed." in response.content.decode()
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3
    assert Promotion.objects.filter(demo=demo).count() == 3


def test_a_rollback_after_a_rollback_goes_further_back(client, demo, staff):
    version_services.model_version_promote(version=_version(demo, 1), actor=staff, reason="cheaper")
    version_services.model_version_promote(version=_version(demo, 2), actor=staff, reason="better")
    client.force_login(staff)
    client.post("/demos/cats-vs-dogs/versions/2/rollback/", {"why": "worse on cats"})
    demo.refresh_from_db()
    assert demo.promoted_version.number == 1

    html = client.get("/demos/cats-vs-dogs/versions/1/").content.decode()
    assert "Roll back to v3" in html  # the one before v1, not v2 again
    client.post("/demos/cats-vs-dogs/versions/1/rollback/", {"why": "slow"})
    demo.refresh_from_db()
    assert demo.promoted_version.number == 3
    html = client.get("/demos/cats-vs-dogs/versions/3/").content.decode()
    assert "there is no earlier one to roll back to" in html


# -- figures on few photos, and the charts ---------------------------------------------

FEW_PHOTOS_METRICS = {
    "accuracy": 0.6,
    "figures": [
        {
            "key": "accuracy",
            "label": "Right answer",
            "value": 0.6,
            "k": 3,
            "n": 5,
            "unit": "photos",
            "format": "percent",
            "interval": True,
            "measured_on": "evaluation set “tiny”",
        }
    ],
    "reliability": {
        "bins": [{"low": 0.9, "high": 1.0, "n": 5, "right": 3, "confidence": 0.95}],
        "n": 5,
        "bins_of": 10,
        "measured_on": "evaluation set “tiny”",
    },
}


def test_it_marks_figures_measured_on_few_photos_in_the_versions_table(client, demo, staff):
    _copy_version(_version(demo, 1), metrics=FEW_PHOTOS_METRICS, created_by_name="staff")
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    versions = html[html.index('id="versions"') : html.index('id="audit"')]
    assert (
        '60.0%<br><span class="figure-detail">23.1–88.2%, 5 photos</span>'
        '<br><strong class="thin-warning">5 photos — too few to trust</strong>' in versions
    )
    assert versions.count('class="thin-warning"') == 1  # the shipped figures are on hundreds
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert '<strong class="thin-warning">5 photos — too few to trust</strong>' in html


def test_the_versions_page_charts_every_ready_versions_figure(client, demo):
    html = client.get("/demos/cats-vs-dogs/versions/").content.decode()
    chart = html[
        html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="figures-chart"') :
    ]
    chart = chart[: chart.index("</svg>")]
    assert chart.count('class="chart-point"') == 6  # v1-v6
    assert '<g class="chart-row served">' in chart  # v3
    assert "v3 EfficientNet-Lite2 (served): 97.0%" in chart


def test_the_version_page_draws_its_reliability_diagram(client, demo, staff):
    _copy_version(_version(demo, 1), metrics=FEW_PHOTOS_METRICS)
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="reliability-v7"' in html
    assert (
        '<title id="reliability-v7-title">Reliability diagram of v7 · EfficientNet-Lite0</title>'
        in html
    )
    assert "Counted on 5 answered photos of evaluation set “tiny”." in html
    # a version measured before bins were kept shows no diagram, not an empty frame
    metrics = {k: v for k, v in _version(demo, 1).metrics.items() if k != "reliability"}
    _copy_version(_version(demo, 1), metrics=metrics)
    html = client.get("/demos/cats-vs-dogs/versions/8/").content.decode()
    assert "Right answer" in html
    assert 'id="reliability-v8"' not in html
