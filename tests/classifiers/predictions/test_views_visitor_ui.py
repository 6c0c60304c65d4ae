"""What a visitor's page holds for the findings a browser is not needed for:
the answer box and its live region, examples named once, the breed list's
order, plain words on cards, and the upload without JavaScript."""

from __future__ import annotations

import re

from django.test import Client

from classifiers.models import Prediction
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes

URL = "/demos/cats-vs-dogs/"


def test_the_answer_box_is_hidden_until_an_upload_and_has_no_dead_link(client, demos):
    html = client.get(URL).content.decode()
    assert '<section id="live" class="live" aria-labelledby="live-heading" hidden>' in html
    assert '<p id="live-link-row" hidden>' in html
    assert 'href="#"' not in html


def test_the_answer_is_announced_to_screen_readers(client, demos):
    html = client.get(URL).content.decode()
    assert re.search(r'<p id="live-status"[^>]* role="status" aria-live="polite"', html)
    assert '<div id="live-result" class="live-result" tabindex="-1"' in html  # focus goes there


def test_each_example_button_is_named_once_by_its_caption(client, demos):
    html = client.get(URL).content.decode()
    buttons = re.findall(r'<button type="submit" name="example".*?</button>', html, re.S)
    assert len(buttons) == len(demos["cats-vs-dogs"].examples)
    for button, example in zip(buttons, demos["cats-vs-dogs"].examples, strict=True):
        assert 'alt=""' in button  # the photo is decorative ...
        assert f"<span>{example['caption']}</span>" in button  # ... the caption names it
        assert "title=" not in button


def test_the_breeds_are_listed_as_a_reader_looks_them_up(client, demos):
    html = client.get("/demos/dog-breeds/").content.decode()
    listed = re.findall(r"<li>([^<]+)</li>", html[html.index('<ul class="breeds">') :])
    assert len(listed) == 121
    assert listed == sorted(listed, key=str.casefold)
    assert listed.index("affenpinscher") < listed.index("Yorkshire terrier")


def test_cards_name_an_evaluation_set_without_its_server_path(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    for figure in version.metrics["figures"]:
        figure["measured_on"] = "the other half of evaluation set “shared/data/pets” (not used)"
    version.save(update_fields=["metrics"])
    for page in ("/", URL):  # the versions page: tests/classifiers/versions
        html = client.get(page).content.decode()
        assert "shared/data" not in html, page
    assert "evaluation set “pets”" in client.get(URL).content.decode()


def test_the_builders_notes_are_behind_a_toggle_on_the_model_card(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    html = client.get(URL).content.decode()
    card = html[html.index('id="model-card"') :]
    assert f"<strong>v{version.number} · {version.name}</strong></p>" in card
    notes_at = card.index(version.notes[:40])
    assert "<summary" in card[:notes_at] and "How this model was built" in card[:notes_at]


def test_without_javascript_the_upload_posts_and_the_answer_page_refreshes_itself(client, demos):
    response = client.post(URL, {"example": "0"})  # a plain form post: no Accept: JSON
    prediction = Prediction.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/predictions/{prediction.id}/"

    waiting = client.get(response["Location"]).content.decode()
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in waiting
    assert f'<a href="/predictions/{prediction.id}/">Check again now</a>' in waiting

    prediction_worker.prediction_run(prediction_id=prediction.id)  # the worker answers
    answered = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in answered
    assert "Check again now" not in answered
    assert '<p class="answer"><strong>cat</strong>' in answered


def test_an_uploaded_photo_without_javascript_goes_the_same_way(client, demos):
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("rex.jpg", example_bytes("golden-retriever.jpg"), "image/jpeg")
    response = client.post(URL, {"image": photo}, follow=True)
    assert response.redirect_chain[0][1] == 302
    assert "Queued…" in response.content.decode()


def test_the_prediction_page_announces_the_answer_when_it_arrives(client, demos):
    response = client.post(URL, {"example": "0"}, follow=True)
    html = response.content.decode()
    assert re.search(r'<p id="live-status"[^>]* role="status" aria-live="polite"', html)
    assert 'class="prediction-result live-result" tabindex="-1"' in html


def test_another_browser_gets_the_styled_404_for_the_permalink(client, demos):
    response = client.post(URL, {"example": "0"})
    stranger = Client().get(response["Location"])
    assert stranger.status_code == 404
    assert "<h1>Page not found</h1>" in stranger.content.decode()
