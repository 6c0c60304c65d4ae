"""Re-running one of my past uploads on the version served now, old and new side by side."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes


def _answered(demo, *, owner=None, visitor_id="", label="dog", version_number=1) -> Prediction:
    """An upload of the cat photo, answered earlier by an older version."""
    prediction = prediction_services.prediction_create(
        demo=demo,
        data=example_bytes("cat.jpg"),
        filename="tabby.jpg",
        owner=owner,
        visitor_id=visitor_id,
    )
    assert prediction_worker.prediction_claim(prediction_id=prediction.id)
    prediction.refresh_from_db()
    prediction_worker.prediction_finish(
        prediction=prediction, outcome={"status": "done", "label": label, "score": 0.9}
    )
    Prediction.objects.filter(id=prediction.id).update(
        model_version=demo.versions.get(number=version_number)
    )
    prediction.refresh_from_db()
    return prediction


@pytest.fixture
def demo(demos):
    return demos["cats-vs-dogs"]


@pytest.fixture
def old(demo, alice):
    """Alice's upload, answered "dog" by v1; v3 is served now."""
    return _answered(demo, owner=alice)


def test_it_offers_a_re_run_on_the_prediction_page_and_in_the_history(client, alice, old):
    client.force_login(alice)
    button = f'action="/predictions/{old.id}/rerun/"'
    page = client.get(f"/predictions/{old.id}/").content.decode()
    assert button in page
    assert "Re-run on the current model" in page
    assert "v3 is served now." in page
    assert button in client.get("/history/").content.decode()


def test_it_offers_no_re_run_while_the_upload_is_still_queued(client, demo, alice):
    queued = prediction_services.prediction_create(
        demo=demo, data=example_bytes("cat.jpg"), owner=alice
    )
    client.force_login(alice)
    assert "/rerun/" not in client.get(f"/predictions/{queued.id}/").content.decode()


def test_it_queues_the_same_photo_on_the_served_version(
    client, demo, alice, old, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"/predictions/{old.id}/rerun/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the new prediction's task
    rerun = Prediction.objects.exclude(id=old.id).get()
    assert response["Location"] == f"/predictions/{rerun.id}/"
    assert (rerun.status, rerun.owner, rerun.rerun_of, rerun.original_name) == (
        "queued",
        alice,
        old,
        "tabby.jpg",
    )

    html = client.get(response["Location"]).content.decode()
    assert "Before (v1): dog (90%)" in html
    assert "Now, on the current model" in html
    assert "Queued…" in html
    assert f'src="/predictions/{old.id}/image/"' in html
    assert f'src="/predictions/{rerun.id}/image/"' in html


def test_it_shows_the_new_answer_beside_the_old_one(client, demo, alice, old):
    client.force_login(alice)
    response = client.post(f"/predictions/{old.id}/rerun/")
    rerun = Prediction.objects.exclude(id=old.id).get()
    prediction_worker.prediction_run(prediction_id=rerun.id)  # the worker, on v3

    html = client.get(response["Location"]).content.decode()
    assert "Before (v1): dog (90%)" in html
    assert "<strong>cat</strong>" in html
    assert "Model v3 · EfficientNet-Lite2" in html
    history = client.get("/history/").content.decode()
    assert '<span class="badge">re-run</span>' in history


def test_it_lets_an_anonymous_visitor_re_run_an_upload_from_this_browser(client, demo):
    photo = SimpleUploadedFile("cat.jpg", example_bytes("cat.jpg"), "image/jpeg")
    response = client.post("/demos/cats-vs-dogs/", {"image": photo})
    first = Prediction.objects.get()
    prediction_worker.prediction_run(prediction_id=first.id)

    response = client.post(f"/predictions/{first.id}/rerun/")
    assert response.status_code == 302
    rerun = Prediction.objects.exclude(id=first.id).get()
    assert (rerun.owner, rerun.visitor_id, rerun.rerun_of) == (None, first.visitor_id, first)
    html = client.get(response["Location"]).content.decode()
    assert "Before (v3): cat" in html


def test_a_stranger_gets_404(client, bob, old):
    client.force_login(bob)
    assert client.post(f"/predictions/{old.id}/rerun/").status_code == 404
    client.logout()
    assert client.post(f"/predictions/{old.id}/rerun/").status_code == 404
    assert Prediction.objects.count() == 1


def test_it_does_not_show_an_earlier_answer_the_viewer_may_not_see(client, demo, alice, bob, old):
    """A re-run links to its source, but the page shows it only to who may see it."""
    bobs = prediction_services.prediction_create(
        demo=demo, data=example_bytes("cat.jpg"), owner=bob
    )
    Prediction.objects.filter(id=bobs.id).update(rerun_of=old)
    client.force_login(bob)
    html = client.get(f"/predictions/{bobs.id}/").content.decode()
    assert "Before" not in html
    assert str(old.id) not in html


def test_it_only_takes_a_post(client, alice, old):
    client.force_login(alice)
    assert client.get(f"/predictions/{old.id}/rerun/").status_code == 405


def test_it_says_so_when_the_workers_are_too_busy(client, alice, old, settings):
    settings.QUEUE_MAX_DEPTH = 0
    client.force_login(alice)
    response = client.post(f"/predictions/{old.id}/rerun/", follow=True)
    assert response.redirect_chain == [(f"/predictions/{old.id}/", 302)]
    assert "The models are busy with other uploads" in response.content.decode()
    assert Prediction.objects.count() == 1
