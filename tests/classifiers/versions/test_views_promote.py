"""Promoting goes through a confirmation page: the version's figures against
the served one's, their sample sizes, its disagreements with the served
version on real uploads, and a stronger warning when they do not back it."""

import uuid

import pytest

from classifiers.models import Comparison, ComparisonStatus, ModelVersion, Promotion

URL = "/demos/cats-vs-dogs/versions/7/promote/"


@pytest.fixture
def demo(demos):
    """cats-vs-dogs as set up: v1-v6 ready, v3 served."""
    return demos["cats-vs-dogs"]


def _candidate(demo, **changes) -> ModelVersion:
    """v7: a copy of v1 (figures on 800 photos) unless ``changes`` say otherwise."""
    v1 = demo.versions.get(number=1)
    fields = {f.name: getattr(v1, f.name) for f in ModelVersion._meta.fields if f.name != "id"}
    fields.update(number=7, name="Lite0 retrained", created_by_name="staff")
    fields.update(changes)
    return ModelVersion.objects.create(**fields)


def _comparison(candidate, baseline, *, agree: int, disagree: int) -> Comparison:
    rows = [
        {
            "prediction": str(uuid.uuid4()),
            "baseline": {"status": "done", "label": "cat", "score": 0.9, "reason": ""},
            "candidate": {"status": "done", "label": "cat" if i < agree else "dog", "score": 0.96},
            "agree": i < agree,
        }
        for i in range(agree + disagree)
    ]
    return Comparison.objects.create(
        candidate=candidate, baseline=baseline, status=ComparisonStatus.DONE, rows=rows
    )


FEW = {
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
}


def _served(demo) -> int:
    demo.refresh_from_db()
    return demo.promoted_version.number


def test_it_shows_the_figures_side_by_side_with_their_sample_sizes(client, demo, staff):
    _candidate(demo)
    client.force_login(staff)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Serve v7 · Lite0 retrained?" in html
    assert "instead of the served v3 · EfficientNet-Lite2" in html
    assert "<th>v7 (candidate)</th><th>v3 (served)</th>" in html
    assert "96.5% (95.0–97.6%, 800 photos)" in html  # v7 (v1's figures)
    assert "97.0% (95.6–98.0%, 800 photos)" in html  # the served v3
    assert "Not compared with the served v3 on real uploads yet" in html
    assert "Think twice" not in html  # figures on 800 photos: no strong warning
    assert 'name="accept_risks"' not in html
    assert _served(demo) == 3  # looking changes nothing


def test_it_promotes_from_the_confirmation_page_and_logs_who_and_why(client, demo, staff):
    candidate = _candidate(demo)
    client.force_login(staff)

    response = client.post(URL, {"why": "faster", "confirmed": "yes"})

    assert response.status_code == 302
    assert response["Location"] == "/demos/cats-vs-dogs/versions/7/"
    assert _served(demo) == 7
    promotion = Promotion.objects.filter(demo=demo).first()
    assert (promotion.to_version, promotion.actor, promotion.reason) == (
        candidate,
        staff,
        "faster",
    )


def test_a_promotion_not_posted_from_the_confirmation_page_shows_it_first(client, demo, staff):
    _candidate(demo)
    client.force_login(staff)

    response = client.post(URL, {"why": "an old form or a script"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Serve v7 · Lite0 retrained?" in html
    assert 'value="an old form or a script"' in html  # kept for the real click
    assert _served(demo) == 3
    assert Promotion.objects.filter(demo=demo).count() == 1  # set-up's only


def test_it_counts_the_disagreements_with_the_served_version(client, demo, staff):
    candidate = _candidate(demo)
    comparison = _comparison(candidate, demo.promoted_version, agree=4, disagree=13)
    client.force_login(staff)

    html = client.get(URL).content.decode()

    assert "13 of 17 recent uploads answered differently." in html
    assert f'href="/demos/cats-vs-dogs/comparisons/{comparison.pk}/"' in html
    assert "Think twice" in html
    assert "13 of 17 recent uploads (76%) were answered differently from the served v3." in html
    assert 'name="accept_risks"' in html


def test_a_few_disagreements_are_no_strong_warning(client, demo, staff):
    candidate = _candidate(demo)
    _comparison(candidate, demo.promoted_version, agree=48, disagree=2)
    client.force_login(staff)
    html = client.get(URL).content.decode()
    assert "2 of 50 recent uploads answered differently." in html
    assert "Think twice" not in html
    assert client.post(URL, {"why": "ok", "confirmed": "yes"}).status_code == 302
    assert _served(demo) == 7


def test_a_comparison_against_a_version_no_longer_served_does_not_count(client, demo, staff):
    candidate = _candidate(demo)
    _comparison(candidate, demo.versions.get(number=2), agree=0, disagree=9)
    client.force_login(staff)
    html = client.get(URL).content.decode()
    assert "Not compared with the served v3 on real uploads yet" in html


@pytest.mark.parametrize(
    ("metrics", "warning"),
    [
        ({}, "No figures: v7 was never measured on labelled photos"),
        (
            {"latency_p50_ms": 20.0},  # timed, never measured on labelled photos
            "No figures: v7 was never measured on labelled photos",
        ),
        (FEW, "Right answer: measured on 5 photos — too few to trust."),
    ],
)
def test_it_needs_serve_anyway_ticked_when_the_figures_do_not_back_it(
    client, demo, staff, metrics, warning
):
    _candidate(demo, metrics=metrics)
    client.force_login(staff)

    html = client.get(URL).content.decode()
    assert "Think twice: the figures do not back this version" in html
    assert warning in html
    assert "Serve v7 anyway" in html

    response = client.post(URL, {"why": "trust me", "confirmed": "yes"})
    assert response.status_code == 400
    assert "Tick “serve it anyway” to promote a version with the warnings above." in (
        response.content.decode()
    )
    assert _served(demo) == 3

    response = client.post(URL, {"why": "trust me", "confirmed": "yes", "accept_risks": "on"})
    assert response.status_code == 302
    assert _served(demo) == 7


def test_it_marks_a_figure_measured_on_few_photos(client, demo, staff):
    _candidate(demo, metrics=FEW)
    client.force_login(staff)
    html = client.get(URL).content.decode()
    assert (
        '60.0% (23.1–88.2%, 5 photos) <strong class="thin-warning">5 photos — too few to trust'
        "</strong>" in html
    )


def test_it_says_why_a_version_cannot_be_promoted(client, demo, staff):
    client.force_login(staff)
    response = client.get("/demos/cats-vs-dogs/versions/3/promote/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "It cannot be promoted: Version 3 is already served." in html
    assert "Serve v3" not in html.replace("Serve v3 · ", "")  # no button

    response = client.post(
        "/demos/cats-vs-dogs/versions/3/promote/", {"why": "again", "confirmed": "yes"}
    )
    assert response.status_code == 400
    assert "Not promoted: Version 3 is already served." in response.content.decode()


def test_it_404s_for_an_unknown_version(client, demo, staff):
    client.force_login(staff)
    assert client.get("/demos/cats-vs-dogs/versions/99/promote/").status_code == 404
