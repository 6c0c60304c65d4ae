"""Per-client limits on the demo page (finding 3), the same as the API's: an
upload rate per client and a cap on its photos waiting for a worker."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from rest_framework.test import APIClient

from classifiers.models import Prediction, PredictionStatus
from tests.classifiers.api.conftest import upload as api_upload
from tests.conftest import jpeg_bytes

URL = "/demos/cats-vs-dogs/"
JSON = {"HTTP_ACCEPT": "application/json"}


def _photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("cat.jpg", jpeg_bytes(), "image/jpeg")


def _from(address: str) -> dict:
    return {"REMOTE_ADDR": address}


@pytest.fixture
def two_an_hour():
    with override_settings(UPLOAD_ANON_RATE="2/hour", UPLOAD_USER_RATE="3/hour"):
        yield


def test_it_answers_the_pages_script_429_with_retry_after_past_the_rate(client, demos, two_an_hour):
    for _ in range(2):
        assert client.post(URL, {"image": _photo()}, **JSON).status_code == 202

    response = client.post(URL, {"image": _photo()}, **JSON)

    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 3500 < retry_after <= 3600
    body = response.json()
    assert body["code"] == "throttled"
    assert body["retry_after"] == retry_after
    assert body["error"] == "You have sent too many photos for now; please try again in 60 minutes."
    assert Prediction.objects.count() == 2


def test_it_tells_a_person_without_javascript_to_wait(client, demos, two_an_hour):
    for _ in range(2):
        assert client.post(URL, {"image": _photo()}).status_code == 302

    response = client.post(URL, {"image": _photo()})

    assert response.status_code == 429
    assert response.has_header("Retry-After")
    assert "You have sent too many photos for now" in response.content.decode()
    assert Prediction.objects.count() == 2


def test_it_counts_example_clicks_and_re_runs_too(client, demos, two_an_hour):
    client.post(URL, {"example": "0"})
    first = Prediction.objects.get()
    Prediction.objects.filter(id=first.id).update(status=PredictionStatus.DONE)
    assert client.post(f"/predictions/{first.id}/rerun/").status_code == 302

    response = client.post(f"/predictions/{first.id}/rerun/", follow=True)

    assert "You have sent too many photos for now" in response.content.decode()
    assert Prediction.objects.count() == 2


def test_it_shares_one_allowance_between_the_page_and_the_api(client, demos, two_an_hour):
    """A new session, or the API instead of the page, is no fresh allowance."""
    assert client.post(URL, {"image": _photo()}, **_from("198.51.100.7")).status_code == 302
    assert Client().post(URL, {"image": _photo()}, **_from("198.51.100.7")).status_code == 302

    response = api_upload(APIClient(), **_from("198.51.100.7"))

    assert response.status_code == 429
    assert Client().post(URL, {"image": _photo()}, **_from("198.51.100.7")).status_code == 429
    # Another address has its own.
    assert Client().post(URL, {"image": _photo()}, **_from("198.51.100.8")).status_code == 302


def test_it_gives_an_account_its_own_rate_wherever_it_signs_in(client, alice, demos, two_an_hour):
    for address in ("198.51.100.7", "198.51.100.8", "198.51.100.9"):
        browser = Client()
        browser.force_login(alice)
        assert browser.post(URL, {"image": _photo()}, **_from(address)).status_code == 302
    client.force_login(alice)
    assert client.post(URL, {"image": _photo()}, **_from("203.0.113.5")).status_code == 429
    # Alice's uploads are not counted against the address she used.
    assert Client().post(URL, {"image": _photo()}, **_from("198.51.100.7")).status_code == 302


@override_settings(QUEUE_MAX_PER_CLIENT=3, UPLOAD_ANON_RATE="1000/hour")
def test_it_refuses_a_client_at_its_cap_of_waiting_photos_but_not_the_others(client, demos):
    """Finding 3: 199 uploads from one session filled the global queue and
    every other visitor got 503."""
    for _ in range(3):
        assert client.post(URL, {"image": _photo()}, **_from("198.51.100.7")).status_code == 302

    script = client.post(URL, {"image": _photo()}, **_from("198.51.100.7"), **JSON)
    page = client.post(URL, {"image": _photo()}, **_from("198.51.100.7"))

    assert script.status_code == 429
    assert script.json() == {
        "error": "You have 3 photos waiting for an answer; please wait for them "
        "before sending more.",
        "code": "too_many_waiting",
        "retry_after": 15,
    }
    assert script["Retry-After"] == "15"
    assert page.status_code == 429
    assert "You have 3 photos waiting for an answer" in page.content.decode()
    assert Prediction.objects.count() == 3
    # Another visitor is served as ever.
    other = Client().post(URL, {"image": _photo()}, **_from("198.51.100.8"))
    assert other.status_code == 302


@override_settings(QUEUE_MAX_PER_CLIENT=2, UPLOAD_ANON_RATE="1000/hour")
def test_it_takes_a_clients_uploads_again_once_its_photos_are_answered(client, demos):
    for _ in range(2):
        client.post(URL, {"image": _photo()})
    assert client.post(URL, {"image": _photo()}).status_code == 429

    Prediction.objects.filter(status=PredictionStatus.QUEUED).update(status=PredictionStatus.DONE)

    assert client.post(URL, {"image": _photo()}).status_code == 302


def test_it_stores_who_sent_it_as_a_key_never_the_address(client, alice, demos):
    client.post(URL, {"image": _photo()}, **_from("198.51.100.7"))
    signed_in = Client()
    signed_in.force_login(alice)
    signed_in.post(URL, {"image": _photo()}, **_from("198.51.100.7"))

    anonymous, own = (
        Prediction.objects.get(owner=None),
        Prediction.objects.get(owner=alice),
    )
    assert re.fullmatch(r"addr:[0-9a-f]{40}", anonymous.client_key)
    assert "198.51.100.7" not in anonymous.client_key
    assert own.client_key == f"user:{alice.pk}"


@override_settings(QUEUE_MAX_DEPTH=0)
def test_it_answers_404_for_an_unknown_demo_even_when_the_queue_is_full(client, demos):
    """Finding 9: the answer was 503 when the queue was full."""
    assert client.post("/demos/no-such-demo/", {"image": _photo()}).status_code == 404
    assert client.post("/demos/no-such-demo/", {"image": _photo()}, **JSON).status_code == 404
    # A real demo is what the full queue refuses.
    assert client.post(URL, {"image": _photo()}).status_code == 503
