"""Deleting one prediction from a page: asked first, gone at once, and an
"Undo" for PREDICTION_UNDO_SECONDS before the purge removes row and files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from classifiers.visitors import VISITOR_SESSION_KEY
from tests.conftest import jpeg_bytes


def _predict(demo, *, owner=None, visitor_id: str = "", label: str = "dog") -> Prediction:
    prediction = prediction_services.prediction_create(
        demo=demo, data=jpeg_bytes(), owner=owner, visitor_id=visitor_id
    )
    assert prediction_worker.prediction_claim(prediction_id=prediction.id)
    prediction.refresh_from_db()
    prediction_worker.prediction_finish(
        prediction=prediction, outcome={"status": "done", "label": label, "score": 0.9}
    )
    prediction.refresh_from_db()
    return prediction


@pytest.fixture
def dog(demos, alice):
    return _predict(demos["cats-vs-dogs"], owner=alice)


def _undo_form(html: str, prediction: Prediction) -> bool:
    return f'action="/predictions/{prediction.id}/restore/"' in html and ">Undo</button>" in html


def test_the_delete_page_asks_first_and_names_the_prediction(client, alice, dog):
    client.force_login(alice)
    html = client.get(f"/predictions/{dog.id}/delete/").content.decode()
    assert "<h1>Delete this prediction?</h1>" in html
    assert "Cats vs dogs: dog (90%)" in html
    assert Prediction.objects.filter(id=dog.id).exists()


def test_a_deleted_prediction_is_gone_at_once_from_history_page_and_api(client, alice, dog):
    client.force_login(alice)
    response = client.post(f"/predictions/{dog.id}/delete/", follow=True)
    html = response.content.decode()
    assert "Deleted your Cats vs dogs prediction (dog (90%))." in html
    assert f'href="/predictions/{dog.id}/"' not in html
    assert client.get(f"/predictions/{dog.id}/").status_code == 404
    assert client.get(f"/predictions/{dog.id}/image/").status_code == 404
    assert client.get(f"/api/v1/predictions/{dog.id}/").status_code == 404
    assert not Prediction.objects.filter(id=dog.id).exists()
    # ... yet nothing is lost while the undo is open.
    kept = Prediction.all_objects.get(id=dog.id)
    assert kept.deleted_at is not None
    assert default_storage.exists(kept.image.name)


def test_the_next_page_offers_undo_and_undo_brings_it_back(client, alice, dog):
    client.force_login(alice)
    html = client.post(f"/predictions/{dog.id}/delete/", follow=True).content.decode()
    assert _undo_form(html, dog)
    assert "You can undo this for 5 minutes." in html

    response = client.post(f"/predictions/{dog.id}/restore/", {"next": "/history/"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/history/", 302)]
    assert "Restored your Cats vs dogs prediction." in html
    assert f'href="/predictions/{dog.id}/"' in html
    assert client.get(f"/predictions/{dog.id}/").status_code == 200
    assert not _undo_form(html, dog)


def test_it_goes_back_to_the_filtered_history_it_was_deleted_from(client, alice, dog):
    client.force_login(alice)
    response = client.post(
        f"/predictions/{dog.id}/delete/", {"next": "/history/?demo=cats-vs-dogs"}
    )
    assert response["Location"] == "/history/?demo=cats-vs-dogs"


def test_it_never_redirects_to_another_site_after_a_delete(client, alice, dog):
    client.force_login(alice)
    response = client.post(f"/predictions/{dog.id}/delete/", {"next": "https://evil.example/"})
    assert response["Location"] == "/history/"


def test_a_stranger_can_neither_delete_nor_restore_it(client, alice, bob, dog):
    client.force_login(bob)
    assert client.post(f"/predictions/{dog.id}/delete/").status_code == 404
    prediction_services.prediction_trash(prediction=dog)
    assert client.post(f"/predictions/{dog.id}/restore/").status_code == 404
    assert Prediction.all_objects.get(id=dog.id).deleted_at is not None


def test_restoring_a_prediction_that_was_never_deleted_is_404(client, alice, dog):
    client.force_login(alice)
    assert client.post(f"/predictions/{dog.id}/restore/").status_code == 404


def test_it_is_too_late_to_undo_once_the_window_is_over(client, alice, dog):
    client.force_login(alice)
    client.post(f"/predictions/{dog.id}/delete/")
    long_ago = timezone.now() - timedelta(seconds=settings.PREDICTION_UNDO_SECONDS + 1)
    Prediction.all_objects.filter(id=dog.id).update(deleted_at=long_ago)
    html = client.post(f"/predictions/{dog.id}/restore/", follow=True).content.decode()
    assert "Too late to undo: that prediction is deleted for good." in html
    assert not Prediction.objects.filter(id=dog.id).exists()


def test_an_anonymous_visitor_deletes_and_undoes_on_the_demo_page(demos):
    browser = Client()
    demo = demos["cats-vs-dogs"]
    browser.get(demo.get_absolute_url())  # the browser's visitor id
    mine = _predict(demo, visitor_id=browser.session[VISITOR_SESSION_KEY])
    response = browser.post(f"/predictions/{mine.id}/delete/", follow=True)
    assert response.redirect_chain == [("/demos/cats-vs-dogs/", 302)]
    assert _undo_form(response.content.decode(), mine)
    assert Client().post(f"/predictions/{mine.id}/restore/").status_code == 404  # another browser
    browser.post(f"/predictions/{mine.id}/restore/")
    assert Prediction.objects.filter(id=mine.id).exists()


def test_the_purge_removes_rows_and_files_only_after_the_undo_window(demos, alice, dog):
    other = _predict(demos["cats-vs-dogs"], owner=alice, label="cat")
    for prediction in (dog, other):
        prediction_services.prediction_trash(prediction=prediction)
    # Only the dog's window is over.
    Prediction.all_objects.filter(id=dog.id).update(
        deleted_at=timezone.now() - timedelta(seconds=settings.PREDICTION_UNDO_SECONDS + 1)
    )
    assert prediction_worker.predictions_purge_deleted() == 1
    assert not Prediction.all_objects.filter(id=dog.id).exists()
    assert not default_storage.exists(dog.image.name)
    assert Prediction.all_objects.filter(id=other.id).exists()
    assert default_storage.exists(other.image.name)


def test_beat_purges_every_minute_on_the_housekeeping_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-deleted-predictions"]
    assert entry["task"] == "classifiers.purge_deleted_predictions"
    assert entry["schedule"] <= 60
    assert settings.CELERY_TASK_ROUTES[entry["task"]]["queue"] == "housekeeping"


def test_delete_all_also_removes_what_waits_for_an_undo(client, alice, demos, dog):
    kept = _predict(demos["cats-vs-dogs"], owner=alice, label="cat")
    prediction_services.prediction_trash(prediction=dog)
    client.force_login(alice)
    html = client.post("/history/clear/", {"count": 1}, follow=True).content.decode()
    assert "Deleted 1 prediction." in html  # what the history showed
    assert not Prediction.all_objects.filter(owner=alice).exists()
    assert not default_storage.exists(dog.image.name)
    assert not default_storage.exists(kept.image.name)
