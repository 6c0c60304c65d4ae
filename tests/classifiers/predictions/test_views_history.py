from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes, jpeg_bytes


def _predict(demo, *, owner, minutes_ago: int, label: str | None = None) -> Prediction:
    prediction = prediction_services.prediction_create(demo=demo, data=jpeg_bytes(), owner=owner)
    # Fixed times, so "newest first" does not depend on how fast the test runs.
    Prediction.objects.filter(id=prediction.id).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    if label is not None:
        assert prediction_worker.prediction_claim(prediction_id=prediction.id)
        prediction.refresh_from_db()
        prediction_worker.prediction_finish(
            prediction=prediction, outcome={"status": "done", "label": label, "score": 0.9}
        )
    prediction.refresh_from_db()
    return prediction


def _upload_anonymously(client) -> Prediction:
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"), "image/jpeg")
    response = client.post("/demos/cats-vs-dogs/", {"image": photo})
    assert response.status_code == 302
    return Prediction.objects.get(id=response["Location"].split("/")[2])


@pytest.fixture
def history(demos, alice, bob):
    """Alice's two predictions and one of Bob's."""
    cats = demos["cats-vs-dogs"]
    return {
        "older": _predict(cats, owner=alice, minutes_ago=10, label="dog"),
        "newer": _predict(cats, owner=alice, minutes_ago=1, label="cat"),
        "bobs": _predict(cats, owner=bob, minutes_ago=5, label="cat"),
    }


def test_it_requires_login(client, demos):
    response = client.get("/history/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/history/"


def test_it_shows_the_users_own_predictions_newest_first(client, alice, history):
    client.force_login(alice)
    response = client.get("/history/")
    assert response.status_code == 200
    html = response.content.decode()
    newer = html.index(f"/predictions/{history['newer'].id}/")
    older = html.index(f"/predictions/{history['older'].id}/")
    assert newer < older
    assert str(history["bobs"].id) not in html


def test_it_shows_demo_answer_model_and_thumbnail(client, alice, demos, history):
    client.force_login(alice)
    html = client.get("/history/").content.decode()
    newer = history["newer"]
    assert f'<img class="thumb" src="/predictions/{newer.id}/image/"' in html
    assert '<td data-label="Demo">Cats vs dogs</td>' in html
    assert f'<a href="/predictions/{newer.id}/">cat (90%)</a>' in html
    assert f'<a href="/predictions/{history["older"].id}/">dog (90%)</a>' in html
    assert f'<td data-label="Model">v{demos["cats-vs-dogs"].promoted_version.number}</td>' in html


def test_it_shows_a_queued_prediction_without_a_model_yet(client, alice, demos):
    queued = _predict(demos["cats-vs-dogs"], owner=alice, minutes_ago=0)
    client.force_login(alice)
    html = client.get("/history/").content.decode()
    assert f'<a href="/predictions/{queued.id}/">queued…</a>' in html
    assert '<td data-label="Model">—</td>' in html


def test_it_filters_by_demo(client, alice, demos, history):
    other = _predict(demos["dog-breeds"], owner=alice, minutes_ago=0)
    client.force_login(alice)

    everything = client.get("/history/").content.decode()
    assert str(other.id) in everything
    assert str(history["newer"].id) in everything

    only_dogs = client.get("/history/", {"demo": "dog-breeds"}).content.decode()
    assert str(other.id) in only_dogs
    assert str(history["newer"].id) not in only_dogs
    assert str(history["older"].id) not in only_dogs
    assert '<option value="dog-breeds" selected>' in only_dogs

    only_cats = client.get("/history/", {"demo": "cats-vs-dogs"}).content.decode()
    assert str(other.id) not in only_cats
    assert str(history["newer"].id) in only_cats


def test_it_says_so_when_there_is_nothing(client, alice, demos):
    client.force_login(alice)
    html = client.get("/history/").content.decode()
    assert "No predictions yet." in html
    assert "Delete all" not in html


def test_it_deletes_one_prediction(client, alice, history):
    client.force_login(alice)
    response = client.post(f"/predictions/{history['older'].id}/delete/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/history/", 302)]
    assert "Deleted your Cats vs dogs prediction (dog (90%))." in html
    assert f'href="/predictions/{history["older"].id}/"' not in html  # its row is gone
    assert f'href="/predictions/{history["newer"].id}/"' in html
    assert set(Prediction.objects.values_list("id", flat=True)) == {
        history["newer"].id,
        history["bobs"].id,
    }


def test_it_deletes_all_of_the_users_predictions_and_their_images(client, alice, history):
    storage = history["newer"].image.storage
    client.force_login(alice)

    response = client.post("/history/clear/", {"count": "2"}, follow=True)

    assert response.redirect_chain == [("/history/", 302)]
    html = response.content.decode()
    assert "Deleted 2 predictions." in html
    assert "No predictions yet." in html
    assert list(Prediction.objects.all()) == [history["bobs"]]
    assert not storage.exists(history["newer"].image.name)
    assert not storage.exists(history["older"].image.name)
    assert storage.exists(history["bobs"].image.name)


def test_it_requires_login_and_asks_before_deleting_all(client, alice, history):
    assert client.post("/history/clear/", {"count": "2"}).status_code == 302
    client.force_login(alice)
    response = client.get("/history/clear/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Delete all 2 predictions?</h1>" in html
    assert "Every prediction in your history, of every demo," in html
    assert '<input type="hidden" name="count" value="2">' in html
    assert Prediction.objects.count() == 3


def test_it_asks_again_when_a_post_does_not_say_how_many_it_was_shown(client, alice, history):
    client.force_login(alice)
    response = client.post("/history/clear/")
    assert response.status_code == 200
    assert "<h1>Delete all 2 predictions?</h1>" in response.content.decode()
    assert Prediction.objects.count() == 3


def test_it_links_delete_all_to_the_question_naming_the_count(client, alice, history):
    client.force_login(alice)
    html = client.get("/history/").content.decode()
    assert '<a class="button danger" href="/history/clear/">Delete all 2 predictions…</a>' in html
    # One row's delete asks in a dialog (data-confirm), naming what goes.
    assert f'action="/predictions/{history["older"].id}/delete/" data-confirm="Delete this' in html


def test_it_moves_this_browsers_predictions_to_a_new_account(client, demos):
    mine = _upload_anonymously(client)
    someone_elses = _upload_anonymously(Client())

    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "password1": "a-long-passphrase-4",
            "password2": "a-long-passphrase-4",
        },
        follow=True,
    )

    carol = get_user_model().objects.get(username="carol")
    assert response.redirect_chain == [("/history/", 302)]
    assert f"/predictions/{mine.id}/" in response.content.decode()
    assert Prediction.objects.get(id=mine.id).owner == carol
    assert Prediction.objects.get(id=someone_elses.id).owner is None


def test_it_moves_this_browsers_predictions_to_the_account_at_login(client, alice, bob, demos):
    mine = _upload_anonymously(client)
    someone_elses = _upload_anonymously(Client())

    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "a-long-passphrase-1"},
        follow=True,
    )

    assert response.redirect_chain == [("/history/", 302)]
    assert f"/predictions/{mine.id}/" in response.content.decode()
    assert Prediction.objects.get(id=mine.id).owner == alice
    assert Prediction.objects.get(id=someone_elses.id).owner is None
    # Now it is Alice's: her other browsers see it, strangers still do not.
    other = Client()
    other.force_login(alice)
    assert other.get(f"/predictions/{mine.id}/").status_code == 200
    other.force_login(bob)
    assert other.get(f"/predictions/{mine.id}/").status_code == 404


def test_it_rejects_a_wrong_password_and_moves_nothing(client, alice, demos):
    mine = _upload_anonymously(client)
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert Prediction.objects.get(id=mine.id).owner is None


def test_it_logs_out(client, alice, history):
    client.post("/accounts/login/", {"username": "alice", "password": "a-long-passphrase-1"})
    assert client.get("/history/").status_code == 200

    response = client.post("/accounts/logout/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "Log in" in response.content.decode()
    assert "Log out alice" not in response.content.decode()
    assert client.get("/history/").status_code == 302
    assert client.get(f"/predictions/{history['newer'].id}/").status_code == 404


def test_it_deletes_only_the_demo_the_history_is_filtered_to(client, alice, demos, history):
    """Finding 12: filtered to Cats vs dogs, "Delete all" deleted every demo's."""
    breeds = _predict(demos["dog-breeds"], owner=alice, minutes_ago=0)
    storage = breeds.image.storage
    client.force_login(alice)

    page = client.get("/history/", {"demo": "cats-vs-dogs"}).content.decode()
    assert (
        '<a class="button danger" href="/history/clear/?demo=cats-vs-dogs">'
        "Delete these 2 predictions…</a>"
    ) in page
    question = client.get("/history/clear/", {"demo": "cats-vs-dogs"}).content.decode()
    assert "<h1>Delete these 2 predictions?</h1>" in question
    assert "Your Cats vs dogs predictions" in question
    assert '<input type="hidden" name="demo" value="cats-vs-dogs">' in question

    response = client.post("/history/clear/", {"demo": "cats-vs-dogs", "count": "2"}, follow=True)

    assert response.redirect_chain == [("/history/?demo=cats-vs-dogs", 302)]
    assert "Deleted 2 predictions." in response.content.decode()
    assert set(Prediction.objects.values_list("id", flat=True)) == {
        breeds.id,
        history["bobs"].id,
    }
    assert not storage.exists(history["newer"].image.name)
    assert not storage.exists(history["older"].image.name)
    assert storage.exists(breeds.image.name)
    assert storage.exists(history["bobs"].image.name)


def test_it_asks_again_when_the_list_changed_since_the_question(client, alice, demos, history):
    client.force_login(alice)
    client.get("/history/clear/", {"demo": "cats-vs-dogs"})  # "Delete these 2 predictions?"
    _predict(demos["cats-vs-dogs"], owner=alice, minutes_ago=0)  # from another tab

    response = client.post("/history/clear/", {"demo": "cats-vs-dogs", "count": "2"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Your history changed meanwhile" in html
    assert "<h1>Delete these 3 predictions?</h1>" in html
    assert Prediction.objects.filter(owner=alice).count() == 3


def test_it_deletes_nothing_for_a_filter_that_matches_nothing(client, alice, history):
    client.force_login(alice)
    assert "No predictions yet." in client.get("/history/", {"demo": "nope"}).content.decode()
    response = client.post("/history/clear/", {"demo": "nope", "count": "0"}, follow=True)
    assert "Deleted 0 predictions." in response.content.decode()
    assert Prediction.objects.count() == 3


def test_it_never_deletes_a_strangers_predictions(client, bob, history):
    client.force_login(bob)
    client.post("/history/clear/", {"demo": "cats-vs-dogs", "count": "1"})
    assert list(Prediction.objects.filter(owner__username="bob")) == []
    assert Prediction.objects.filter(owner__username="alice").count() == 2
