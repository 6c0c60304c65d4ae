"""The staff's queue page: staff only, with the figures and the empty state in words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from classifiers.models import PredictionStatus
from tests.classifiers.monitoring.conftest import make_answer, make_row, seconds

pytestmark = pytest.mark.django_db
URL = reverse("classifiers:staff-queue")


def test_it_sends_an_anonymous_visitor_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_refuses_a_user_who_is_not_staff(client, alice):
    client.force_login(alice)
    assert client.get(URL).status_code == 403


def test_it_is_linked_from_the_navigation_for_staff_only(client, alice, staff):
    client.force_login(alice)
    assert URL not in client.get(reverse("classifiers:history")).content.decode()
    client.force_login(staff)
    assert f'href="{URL}"' in client.get(reverse("classifiers:history")).content.decode()


def test_it_shows_the_queue_workers_speed_latency_and_failures(client, staff, demo, versions):
    now = timezone.now()
    make_row(demo, status=PredictionStatus.QUEUED, created=now - timedelta(minutes=5))
    make_row(
        demo, version=versions[1], status=PredictionStatus.RUNNING, created=now - seconds(40),
        started=now - seconds(40), heartbeat=now - seconds(35), attempts=1,
    )  # fmt: skip
    for total in (2, 4, 6):
        make_answer(demo, versions[1], finished=now - timedelta(minutes=3),
                    upload_to_answer=total, claim_to_answer=1)  # fmt: skip
    make_row(demo, version=versions[1], status=PredictionStatus.FAILED, created=now,
             started=now, finished=now, error="The model took too long.")  # fmt: skip
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    page = " ".join(response.content.decode().split())
    assert 'Waiting for a worker</th><td class="num">1</td>' in page
    assert "the oldest for 5 min" in page
    assert "1 photo waiting, the oldest for 5 min" in page  # nobody beats: a warning
    assert "1 running photo lost its worker" in page
    assert "<strong>3</strong> answered (0.1 a minute), <strong>1</strong> failed" in page
    assert "<svg" in page and "answered, 0 failed</title>" in page
    assert 'Upload to answer</th><td class="num">4.0 s</td><td class="num">6.0 s</td>' in page
    assert f'href="{reverse("classifiers:version", args=[demo.slug, 1])}">v1</a> Lite1' in page
    assert "25.0%" in page
    assert 'The model took too long. <span class="muted">(1×)</span>' in page
    assert reverse("api:staff-queue") in page


def test_an_empty_queue_reads_well(client, staff):
    client.force_login(staff)
    page = client.get(URL).content.decode()
    assert "no photo waits" in page
    assert "Nothing was answered in the last hour." in page
    assert "No answer in the last hour to time." in page
    assert "No photo finished in the last hour." in page
    assert 'Last answer</th><td colspan="2">never' in page
    assert 'role="alert"' not in page and "<svg" not in page
