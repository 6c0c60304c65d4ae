import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import EXAMPLES, example_bytes, jpeg_bytes


@pytest.fixture
def prediction(demos, alice):
    """Alice's prediction, made while she was logged in."""
    return prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), filename="alices-cat.jpg", owner=alice
    )


def _urls(prediction) -> dict[str, str]:
    base = f"/predictions/{prediction.id}/"
    return {"detail": base, "status": f"{base}status/", "image": f"{base}image/"}


def _upload_anonymously(client) -> Prediction:
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"), "image/jpeg")
    response = client.post("/demos/cats-vs-dogs/", {"image": photo})
    assert response.status_code == 302
    return Prediction.objects.get(id=response["Location"].split("/")[2])


def test_it_shows_the_owner_her_prediction(client, alice, prediction):
    client.force_login(alice)
    response = client.get(_urls(prediction)["detail"])
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<img class="photo" src="/predictions/{prediction.id}/image/"' in html
    assert "Queued…" in html
    assert "alices-cat.jpg" in html
    assert f'href="/predictions/{prediction.id}/delete/"' in html


def test_it_shows_the_answer_once_the_worker_is_done(client, alice, prediction):
    assert prediction_worker.prediction_claim(prediction_id=prediction.id)
    prediction.refresh_from_db()
    prediction_worker.prediction_finish(
        prediction=prediction,
        outcome={
            "status": "done",
            "label": "cat",
            "score": 0.93,
            "top": [{"label": "cat", "score": 0.93}, {"label": "dog", "score": 0.07}],
        },
    )
    client.force_login(alice)
    html = client.get(_urls(prediction)["detail"]).content.decode()
    assert "<strong>cat</strong>" in html
    assert "93%" in html
    served = prediction.demo.promoted_version
    assert f"Model v{served.number} · {served.name}" in html
    assert "Queued…" not in html


@pytest.fixture
def explained(demos, alice):
    """Alice's photo of a dog, answered in-process by the served model, with its heatmap."""
    prediction = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"],
        data=example_bytes("golden-retriever.jpg"),
        filename="rex.jpg",
        owner=alice,
    )
    prediction_worker.prediction_run(prediction_id=prediction.id)
    prediction.refresh_from_db()
    assert (prediction.status, prediction.result["label"]) == ("done", "dog")
    return prediction


def test_it_serves_the_owner_the_heatmap_of_her_photo(client, alice, explained):
    client.force_login(alice)
    response = client.get(f"/predictions/{explained.id}/heatmap/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    overlay = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    # Small, of the photo's shape: the page scales it over the whole photo.
    photo = Image.open(EXAMPLES / "golden-retriever.jpg")
    assert (overlay.format, overlay.mode, max(overlay.size)) == ("PNG", "RGBA", 64)
    assert overlay.width / overlay.height == pytest.approx(photo.width / photo.height, rel=0.05)


def test_it_lays_the_heatmap_over_the_whole_photo_on_the_page(client, alice, explained):
    client.force_login(alice)
    html = client.get(f"/predictions/{explained.id}/").content.decode()
    assert f'<img class="heatmap" src="/predictions/{explained.id}/heatmap/"' in html
    assert "left: 0.00%; top: 0.00%; width: 100.00%; height: 100.00%" in html
    assert "Show what the model looked at (Grad-CAM)" in html


def test_an_answer_stored_before_keeps_its_heatmap_on_the_part_the_network_saw(
    client, alice, explained
):
    details = explained.result["details"]
    del details["heatmap_covers"]
    explained.save(update_fields=["result"])
    client.force_login(alice)
    html = client.get(f"/predictions/{explained.id}/").content.decode()
    left, top, right, bottom = details["crop_box"]
    assert f"left: {left * 100:.2f}%; top: {top * 100:.2f}%;" in html
    assert f"width: {(right - left) * 100:.2f}%" in html


def test_it_shows_no_heatmap_before_the_answer(client, alice, prediction):
    client.force_login(alice)
    assert client.get(f"/predictions/{prediction.id}/heatmap/").status_code == 404
    assert 'class="heatmap"' not in client.get(f"/predictions/{prediction.id}/").content.decode()


def test_it_404s_the_heatmap_for_a_stranger(client, bob, explained):
    client.force_login(bob)
    assert client.get(f"/predictions/{explained.id}/heatmap/").status_code == 404


def test_it_404s_the_heatmap_for_another_anonymous_browser(explained):
    assert Client().get(f"/predictions/{explained.id}/heatmap/").status_code == 404


def test_deleting_a_prediction_deletes_its_heatmap(client, alice, explained):
    storage = explained.heatmap.storage
    name = explained.heatmap.name
    assert storage.exists(name)
    client.force_login(alice)

    client.post(f"/predictions/{explained.id}/delete/")

    assert not Prediction.objects.filter(id=explained.id).exists()
    _purge_after_the_undo_window()
    assert not storage.exists(name)


def test_it_gives_the_owner_the_status_as_json(client, alice, prediction):
    client.force_login(alice)
    response = client.get(_urls(prediction)["status"])
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(prediction.id)
    assert body["status"] == "queued"
    assert body["finished"] is False
    assert body["image_url"] == f"http://testserver/api/v1/predictions/{prediction.id}/image/"
    assert body["page_url"] == f"/predictions/{prediction.id}/"
    assert 'data-status="queued"' in body["html"]


def test_it_serves_the_owner_her_image(client, alice, prediction):
    client.force_login(alice)
    response = client.get(_urls(prediction)["image"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert "private" in response["Cache-Control"]
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert (image.format, image.size) == ("JPEG", (64, 48))


def test_it_lets_the_owner_delete_her_prediction(client, alice, prediction):
    name = prediction.image.name
    storage = prediction.image.storage
    assert storage.exists(name)
    client.force_login(alice)

    response = client.post(f"/predictions/{prediction.id}/delete/", follow=True)

    assert response.redirect_chain == [("/history/", 302)]
    assert "Deleted your Cats vs dogs prediction" in response.content.decode()
    assert not Prediction.objects.filter(id=prediction.id).exists()
    assert storage.exists(name)  # while its Undo is offered
    _purge_after_the_undo_window()
    assert not storage.exists(name)


def _purge_after_the_undo_window() -> None:
    later = timezone.now() + timedelta(seconds=settings.PREDICTION_UNDO_SECONDS + 1)
    assert prediction_worker.predictions_purge_deleted(now=later) == 1


def test_it_asks_before_deleting(client, alice, prediction):
    client.force_login(alice)
    response = client.get(f"/predictions/{prediction.id}/delete/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Delete this prediction?</h1>" in html
    assert '<form method="post">' in html
    assert '<button type="submit" class="danger">Delete this prediction</button>' in html
    assert f'<a href="/predictions/{prediction.id}/">Cancel</a>' in html
    assert Prediction.objects.filter(id=prediction.id).exists()


def test_it_does_not_show_a_stranger_the_delete_question(client, bob, prediction):
    client.force_login(bob)
    assert client.get(f"/predictions/{prediction.id}/delete/").status_code == 404


@pytest.mark.parametrize("page", ["detail", "status", "image"])
def test_it_404s_for_a_stranger(client, bob, prediction, page):
    client.force_login(bob)
    assert client.get(_urls(prediction)[page]).status_code == 404


def test_it_does_not_let_a_stranger_delete(client, bob, prediction):
    client.force_login(bob)
    assert client.post(f"/predictions/{prediction.id}/delete/").status_code == 404
    assert Prediction.objects.filter(id=prediction.id).exists()
    assert prediction.image.storage.exists(prediction.image.name)


@pytest.mark.parametrize("page", ["detail", "status", "image"])
def test_it_404s_for_an_anonymous_visitor_on_an_owned_prediction(client, prediction, page):
    assert client.get(_urls(prediction)[page]).status_code == 404


def test_it_404s_for_an_unknown_prediction(client, alice, demos):
    client.force_login(alice)
    url = "/predictions/00000000-0000-4000-8000-000000000000/"
    assert client.get(url).status_code == 404
    assert client.get(f"{url}status/").status_code == 404
    assert client.get(f"{url}image/").status_code == 404


@pytest.mark.parametrize("page", ["detail", "status", "image"])
def test_it_shows_an_anonymous_browser_its_own_prediction(client, demos, page):
    prediction = _upload_anonymously(client)
    assert prediction.owner is None
    assert client.get(_urls(prediction)[page]).status_code == 200


def test_it_lets_an_anonymous_browser_delete_its_prediction(client, demos):
    prediction = _upload_anonymously(client)
    response = client.post(f"/predictions/{prediction.id}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/demos/cats-vs-dogs/"
    assert not Prediction.objects.filter(id=prediction.id).exists()


@pytest.mark.parametrize("page", ["detail", "status", "image"])
def test_it_404s_for_another_anonymous_browser(client, demos, page):
    prediction = _upload_anonymously(client)
    assert Client().get(_urls(prediction)[page]).status_code == 404


def test_it_does_not_let_another_anonymous_browser_delete(client, demos):
    prediction = _upload_anonymously(client)
    assert Client().post(f"/predictions/{prediction.id}/delete/").status_code == 404
    assert Prediction.objects.filter(id=prediction.id).exists()


@pytest.mark.parametrize("page", ["detail", "status", "image"])
def test_it_404s_for_a_logged_in_user_on_an_anonymous_prediction(client, demos, bob, page):
    prediction = _upload_anonymously(client)
    other = Client()
    other.force_login(bob)
    assert other.get(_urls(prediction)[page]).status_code == 404
    assert other.post(f"/predictions/{prediction.id}/delete/").status_code == 404
    assert Prediction.objects.get(id=prediction.id).owner is None


def _lookalike_page(client, details: dict) -> str:
    from django.utils import timezone

    from classifiers.models import Demo, Prediction, PredictionStatus

    demo = Demo.objects.get(slug="celebrity-lookalike")
    session = client.session
    session["visitor_id"] = "browser-x"
    session.save()
    prediction = Prediction.objects.create(
        demo=demo,
        model_version=demo.promoted_version,
        visitor_id="browser-x",
        image="predictions/none.jpg",
        image_sha256="0" * 64,
        status=PredictionStatus.DONE,
        result={
            "label": "Grace Hopper",
            "score": details["score_top"],
            "top": [
                {"label": "Grace Hopper", "score": details["score_top"], "likeness": 71},
                {"label": "Ada Lovelace", "score": 0.001, "likeness": 64},
            ],
            "details": {**details, "gallery_size": 4038},
        },
        created_at=timezone.now(),
    )
    return client.get(f"/predictions/{prediction.id}/").content.decode()


def test_a_look_alike_page_says_when_it_is_only_a_look_alike(client, demos):
    html = _lookalike_page(client, {"score_top": 0.04, "same_person": False})
    assert "You look most like <strong>Grace Hopper</strong>" in html
    assert "Only a look-alike: 4% chance that it is Grace Hopper in person" in html
    assert "This is" not in html
    # Runners-up show how alike they look, never a second chance of being the face.
    assert '<span class="bar-value" title="likeness, 0 to 100">64</span>' in html
    assert "0%" not in html.split('class="bars likeness"')[1].split("</ul>")[0]


def test_a_look_alike_page_says_when_it_is_the_person(client, demos):
    html = _lookalike_page(client, {"score_top": 0.97, "same_person": True})
    assert "This is <strong>Grace Hopper</strong>" in html
    assert "97% chance that it is Grace Hopper, out of 4038 people in the gallery" in html


def test_the_short_answer_of_a_mere_look_alike_says_so(db):
    from classifiers.models import Demo, Prediction, PredictionStatus

    demo = Demo(kind="face-lookalike")
    look_alike = Prediction(
        demo=demo,
        status=PredictionStatus.DONE,
        result={"label": "Tom Hanks", "score": 0.1, "details": {"same_person": False}},
    )
    same = Prediction(
        demo=demo,
        status=PredictionStatus.DONE,
        result={"label": "Tom Hanks", "score": 0.9, "details": {"same_person": True}},
    )
    assert (look_alike.answer, same.answer) == ("looks like Tom Hanks (10%)", "Tom Hanks (90%)")
