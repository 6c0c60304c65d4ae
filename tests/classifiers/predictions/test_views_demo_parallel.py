"""Parallel uploads from one browser, against a real server (live_server):
they share one visitor id (finding 8) and one cap of waiting photos (finding 3)."""

from __future__ import annotations

import http.client
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 30


class Browser:
    """Cookies and the CSRF token of one browser, over plain HTTP."""

    def __init__(self, base_url: str) -> None:
        self.host, self.port = urlsplit(base_url).hostname, urlsplit(base_url).port
        self.cookies: dict[str, str] = {}
        self.csrf_token = ""

    def request(self, method: str, path: str, body: bytes = b"", headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(
            method, path, body=body or None, headers={**(headers or {}), "Cookie": cookie}
        )
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    def open_demo_page(self, path: str) -> None:
        response, data = self.request("GET", path)
        assert response.status == 200
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        self.csrf_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', data)[1]

    def upload(self, path: str) -> int:
        """POST a photo as the demo page's script does; the status code."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="cat.jpg"'
                "\r\nContent-Type: image/jpeg\r\n\r\n"
            ).encode()
            + jpeg_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        response, _ = self.request(
            "POST",
            path,
            body,
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Accept": "application/json",
                "X-CSRFToken": self.csrf_token.decode(),
                "Referer": f"http://{self.host}:{self.port}{path}",
            },
        )
        return response.status


@pytest.fixture
def no_broker(monkeypatch):
    """No worker here: the uploads stay queued (and no message is left in a broker)."""
    monkeypatch.setattr(prediction_services.run_prediction, "delay", lambda *args: None)


def _in_parallel(browser: Browser, path: str) -> list[int]:
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda _: browser.upload(path), range(PARALLEL)))


@override_settings(UPLOAD_ANON_RATE="1000/hour", QUEUE_MAX_PER_CLIENT=1000)
def test_parallel_first_uploads_of_one_browser_share_its_visitor_id(live_server, demos, no_broker):
    """Finding 8: 30 parallel first uploads made 8 visitor ids, and 21 of the
    browser's own predictions were 404 to it for good."""
    browser = Browser(live_server.url)
    browser.open_demo_page("/demos/cats-vs-dogs/")

    statuses = _in_parallel(browser, "/demos/cats-vs-dogs/")

    assert statuses == [202] * PARALLEL
    predictions = list(Prediction.objects.all())
    assert len(predictions) == PARALLEL
    assert len({p.visitor_id for p in predictions}) == 1
    for prediction in predictions:
        response, _ = browser.request("GET", f"/predictions/{prediction.id}/")
        assert response.status == 200, prediction.id


@override_settings(UPLOAD_ANON_RATE="1000/hour", QUEUE_MAX_PER_CLIENT=10)
def test_parallel_uploads_of_one_client_stop_at_its_cap(live_server, demos, no_broker):
    """Counted one after the other under a lock, not all against the same count."""
    browser = Browser(live_server.url)
    browser.open_demo_page("/demos/cats-vs-dogs/")

    statuses = _in_parallel(browser, "/demos/cats-vs-dogs/")

    assert sorted(statuses) == [202] * 10 + [429] * (PARALLEL - 10)
    assert Prediction.objects.count() == 10
