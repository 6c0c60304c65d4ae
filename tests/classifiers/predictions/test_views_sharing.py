"""Sharing an answer: the owner's link, with the photo only if chosen, and
taking it back. The shared page shows nothing of its owner."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.classifiers.answers import DOG, NEITHER, answered, meta_tags, text_of
from tests.conftest import example_bytes, jpeg_bytes


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


@pytest.fixture
def answer(demo, alice):
    """Alice's photo, answered "dog (96%)"."""
    return answered(demo, owner=alice)


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def _share(client, prediction, *, show_photo: bool = False):
    data = {"show_photo": "true"} if show_photo else {}
    return client.post(f"/predictions/{prediction.id}/share/", data)


def _shared_url(prediction) -> str:
    prediction.refresh_from_db()
    assert prediction.share_token
    return f"/shared/{prediction.share_token}/"


def test_it_offers_the_owner_a_link_under_her_answer(as_alice, answer):
    html = as_alice.get(f"/predictions/{answer.id}/").content.decode()
    assert f'action="/predictions/{answer.id}/share/"' in html
    assert "Make a link" in html
    assert "Show my photo (and the heatmap) too" in html


def test_it_offers_no_link_before_the_answer(as_alice, demo, alice):
    queued = prediction_services.prediction_create(demo=demo, data=jpeg_bytes(), owner=alice)
    html = as_alice.get(f"/predictions/{queued.id}/").content.decode()
    assert "Make a link" not in html


def test_a_shared_answer_opens_for_anyone_with_the_link(as_alice, answer):
    response = _share(as_alice, answer)
    assert response.status_code == 302
    assert response["Location"] == f"/predictions/{answer.id}/#share"
    url = _shared_url(answer)
    assert len(answer.share_token) >= 32  # unguessable

    page = Client().get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>dog</strong>" in html
    assert "96% sure" in html
    assert 'class="bars"' in html
    assert f"Model v{answer.model_version.number}" in html
    assert "no-store" in page["Cache-Control"]


def test_the_owner_sees_her_link_after_sharing(as_alice, answer):
    html = as_alice.get(_share(as_alice, answer)["Location"]).content.decode()
    url = _shared_url(answer)
    assert f'value="http://testserver{url}"' in html
    assert "Shared: anyone with the link sees the answer, not your photo." in html
    assert "Stop sharing" in html


def test_it_hides_the_photo_unless_the_owner_chose_to_show_it(as_alice, answer):
    _share(as_alice, answer)
    url = _shared_url(answer)
    visitor = Client()
    html = visitor.get(url).content.decode()
    assert 'class="photo"' not in html
    assert "/image/" not in html
    assert "The photo is not shared." in html
    assert visitor.get(f"{url}image/").status_code == 404
    assert visitor.get(f"{url}heatmap/").status_code == 404


@pytest.fixture
def explained(demo, alice):
    """Alice's dog, answered in-process by the served model, with its heatmap."""
    prediction = prediction_services.prediction_create(
        demo=demo, data=example_bytes("golden-retriever.jpg"), filename="rex.jpg", owner=alice
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert prediction.heatmap
    return prediction


def test_it_shows_the_photo_and_its_heatmap_when_chosen(as_alice, explained):
    _share(as_alice, explained, show_photo=True)
    url = _shared_url(explained)
    visitor = Client()
    html = visitor.get(url).content.decode()
    assert f'<img class="photo" src="{url}image/"' in html
    assert f'<img class="heatmap" src="{url}heatmap/"' in html
    assert "Show what the model looked at (Grad-CAM)" in html

    photo = visitor.get(f"{url}image/")
    assert (photo.status_code, photo["Content-Type"]) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(b"".join(photo.streaming_content))).format == "JPEG"
    heatmap = visitor.get(f"{url}heatmap/")
    assert (heatmap.status_code, heatmap["Content-Type"]) == (200, "image/png")
    assert "no-cache" in heatmap["Cache-Control"]


def test_sharing_again_keeps_the_link_and_changes_what_it_shows(as_alice, answer):
    _share(as_alice, answer)
    first = _shared_url(answer)
    response = _share(as_alice, answer, show_photo=True)
    assert _shared_url(answer) == first
    assert answer.share_photo
    html = as_alice.get(response["Location"]).content.decode()
    assert "The link now shows the answer and your photo." in html
    assert "Hide my photo" in html
    assert Client().get(f"{first}image/").status_code == 200

    _share(as_alice, answer, show_photo=False)
    answer.refresh_from_db()
    assert not answer.share_photo
    assert Client().get(f"{first}image/").status_code == 404


def test_the_shared_page_shows_nothing_of_its_owner(as_alice, alice, demos, answer):
    other = answered(
        demos["dog-breeds"],
        owner=alice,
        filename="samoyed-at-home.jpg",
        outcome={
            "status": "done",
            "label": "Samoyed",
            "score": 0.9,
            "top": [{"label": "Samoyed", "score": 0.9}],
        },
    )
    _share(as_alice, answer, show_photo=True)
    html = Client().get(_shared_url(answer)).content.decode()
    for private in ("alice", "rex-at-alices-house", str(answer.id), str(other.id), "Samoyed"):
        assert private not in html, private
    assert "History" not in html  # a visitor's header, not the owner's


def test_the_shared_page_previews_nicely_when_pasted(as_alice, answer):
    _share(as_alice, answer)
    url = _shared_url(answer)
    meta = meta_tags(Client().get(url).content.decode())
    assert meta["og:title"] == "Cats vs dogs: dog (96%)"
    assert meta["og:description"].startswith("What a deep-learning model answered")
    assert meta["og:url"] == f"http://testserver{url}"
    assert meta["twitter:card"] == "summary"
    assert "og:image" not in meta  # the photo is not shared
    assert meta["robots"] == "noindex"

    _share(as_alice, answer, show_photo=True)
    meta = meta_tags(Client().get(url).content.decode())
    assert meta["og:image"] == f"http://testserver{url}image/"
    assert meta["twitter:card"] == "summary_large_image"


def test_a_refusal_is_shared_as_the_answer(as_alice, demo, alice):
    refused = answered(demo, owner=alice, outcome=NEITHER)
    _share(as_alice, refused)
    html = Client().get(_shared_url(refused)).content.decode()
    assert "Neither a cat nor a dog." in html
    assert meta_tags(html)["og:title"] == "Cats vs dogs: Neither a cat nor a dog."


def test_stopping_sharing_kills_the_link(as_alice, answer):
    _share(as_alice, answer, show_photo=True)
    url = _shared_url(answer)
    response = as_alice.post(f"/predictions/{answer.id}/unshare/")
    assert response.status_code == 302
    assert "the link does not work any more" in as_alice.get(response["Location"]).content.decode()

    visitor = Client()
    gone = visitor.get(url)
    assert gone.status_code == 404
    assert "This answer is not shared" in gone.content.decode()
    assert 'href="/"' in gone.content.decode()  # a way back
    assert visitor.get(f"{url}image/").status_code == 404
    assert visitor.get(f"{url}flag/").status_code == 404

    _share(as_alice, answer)
    assert _shared_url(answer) != url  # a new link; the old one stays dead
    assert visitor.get(url).status_code == 404


def test_deleting_a_shared_answer_kills_the_link(as_alice, answer):
    _share(as_alice, answer)
    url = _shared_url(answer)
    as_alice.post(f"/predictions/{answer.id}/delete/")
    assert Client().get(url).status_code == 404


def test_an_unknown_link_is_a_styled_404(client, db):
    response = client.get("/shared/not-a-real-token/")
    assert response.status_code == 404
    assert "<title>This answer is not shared · Portfolio</title>" in response.content.decode()


def test_a_stranger_cannot_share_someone_elses_answer(client, bob, answer):
    client.force_login(bob)
    assert _share(client, answer, show_photo=True).status_code == 404
    assert Client().post(f"/predictions/{answer.id}/share/").status_code == 404
    answer.refresh_from_db()
    assert answer.share_token is None


def test_a_stranger_cannot_stop_someone_elses_sharing(as_alice, bob, answer):
    _share(as_alice, answer)
    url = _shared_url(answer)
    stranger = Client()
    stranger.force_login(bob)
    assert stranger.post(f"/predictions/{answer.id}/unshare/").status_code == 404
    assert Client().get(url).status_code == 200


def test_it_takes_only_a_post(as_alice, answer):
    assert as_alice.get(f"/predictions/{answer.id}/share/").status_code == 405
    assert as_alice.get(f"/predictions/{answer.id}/unshare/").status_code == 405


def test_an_anonymous_owner_shares_from_her_browser(demo):
    browser = Client()
    photo = SimpleUploadedFile("cat.jpg", jpeg_bytes(), "image/jpeg")
    response = browser.post("/demos/cats-vs-dogs/", {"image": photo})
    prediction = Prediction.objects.get(id=response["Location"].split("/")[2])
    assert prediction_worker.prediction_claim(prediction_id=prediction.id)
    prediction.refresh_from_db()
    prediction_worker.prediction_finish(prediction=prediction, outcome=DOG)

    html = browser.get(f"/predictions/{prediction.id}/").content.decode()
    assert "Make a link" in html
    assert "deleted 30 days after the upload" in html  # no account: it expires
    assert _share(browser, prediction).status_code == 302
    assert Client().get(_shared_url(prediction)).status_code == 200
    assert _share(Client(), prediction).status_code == 404  # another browser


def test_it_refuses_to_share_what_is_not_answered_yet(as_alice, demo, alice):
    queued = prediction_services.prediction_create(demo=demo, data=jpeg_bytes(), owner=alice)
    response = _share(as_alice, queued)
    assert response.status_code == 302
    html = as_alice.get(response["Location"]).content.decode()
    assert "Only an answer can be shared: wait until the model has answered." in text_of(html)
    queued.refresh_from_db()
    assert queued.share_token is None
