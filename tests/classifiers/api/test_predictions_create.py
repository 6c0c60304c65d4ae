"""POST /api/v1/predictions/ (multipart demo + image) -> 202."""

from rest_framework.test import APIClient

from classifiers.models import Prediction
from tests.classifiers.api.conftest import upload
from tests.conftest import example_bytes


def test_it_queues_an_anonymous_upload_and_answers_202(anon, demos):
    response = upload(anon, data=example_bytes("cat.jpg"))
    assert response.status_code == 202
    body = response.json()
    prediction = Prediction.objects.get(id=body["id"])
    url = f"http://testserver/api/v1/predictions/{prediction.id}/"
    queue = body.pop("queue")
    assert body == {"id": str(prediction.id), "status": "queued", "url": url, "status_url": url}
    assert queue["ahead"] == 0 and queue["poll_after_ms"] >= 50
    assert response["Location"] == url
    assert prediction.owner is None
    assert prediction.visitor_id.startswith("api:")
    assert prediction.demo.slug == "cats-vs-dogs"
    assert prediction.original_name == "cat.jpg"


def test_it_gives_each_anonymous_upload_an_identity_of_its_own(anon, demos):
    first, second = (upload(anon).json()["id"] for _ in range(2))
    ids = Prediction.objects.filter(id__in=[first, second]).values_list("visitor_id", flat=True)
    assert len(set(ids)) == 2


def test_it_sends_the_id_to_a_worker_once_committed(
    anon, demos, monkeypatch, django_capture_on_commit_callbacks
):
    from classifiers.predictions import tasks

    sent = []
    monkeypatch.setattr(tasks.run_prediction, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        body = upload(anon).json()
    assert sent == [body["id"]]


def test_it_files_a_token_users_upload_under_her_account(alice_api, alice, demos):
    response = upload(alice_api, demo="dog-breeds")
    assert response.status_code == 202
    prediction = Prediction.objects.get(id=response.json()["id"])
    assert prediction.owner == alice
    assert prediction.visitor_id == ""
    assert prediction.demo.slug == "dog-breeds"


def test_it_takes_a_session_upload_with_its_csrf_token(alice, demos):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.get("/accounts/token/")  # any page with a form sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = upload(browser, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 202
    assert Prediction.objects.get(id=response.json()["id"]).owner == alice
