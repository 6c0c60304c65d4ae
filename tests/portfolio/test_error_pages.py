"""Error pages look like the site and offer a way back; the API's stay JSON."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from classifiers.api.errors import server_error
from classifiers.predictions import services
from tests.conftest import jpeg_bytes


def test_an_unknown_page_is_a_styled_404_with_a_way_back(client, db):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    assert '<header class="site-header">' in html
    assert "<h1>Page not found</h1>" in html
    assert '<a class="button" href="/">Try the demos yourself</a>' in html
    assert '<a href="/accounts/login/?next=/no-such-page/">Log in</a>' in html


def test_someone_elses_permalink_is_the_styled_404_saying_why(demos, alice):
    prediction = services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=alice
    )
    response = Client().get(prediction.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 404
    assert "answers are private to the person who made them" in html
    assert "Try the demos yourself" in html


def test_a_signed_in_person_is_offered_their_history_on_a_404(client, alice):
    client.force_login(alice)
    html = client.get("/no-such-page/").content.decode()
    assert '<a href="/history/">Your history</a>' in html


def test_an_unknown_api_url_is_still_json(client, db):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found.", "code": "not_found"}


def test_the_500_page_renders_without_a_request_or_the_database():
    # As Django renders it for a crash: no context processors, no user. No
    # database either: this test has none (pytest-django refuses any query).
    html = render_to_string("500.html")
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    assert '<header class="site-header">' in html
    assert "<h1>Something went wrong on our side</h1>" in html
    assert '<a class="button" href="/">Back to the demos</a>' in html


def test_the_500_handler_answers_with_the_styled_page():
    response = server_error(RequestFactory().get("/demos/cats-vs-dogs/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.parametrize(
    ("template", "heading"),
    [("400.html", "That request could not be read"), ("413.html", "Too large")],
)
def test_the_standalone_error_pages_are_styled_with_a_way_back(template, heading):
    html = render_to_string(template, {"message": "The photo is over 10 MB."})
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    assert f"<h1>{heading}</h1>" in html
    assert 'href="/">Back to the demos</a>' in html


def test_a_staff_page_refused_to_a_visitor_is_styled(client, alice, demos):
    client.force_login(alice)
    response = client.get("/demos/cats-vs-dogs/versions/new/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>Not allowed</h1>" in html
    assert '<header class="site-header">' in html
