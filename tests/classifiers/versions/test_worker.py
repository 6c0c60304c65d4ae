"""A running worker serves a newly promoted version without a restart."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers.versions import services as version_services
from tests.conftest import example_bytes
from tests.workers import wait_until_finished

pytestmark = [pytest.mark.worker]


def _upload(client):
    photo = SimpleUploadedFile("dog.jpg", example_bytes("golden-retriever.jpg"))
    response = client.post("/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json")
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_the_worker_answers_with_the_newly_promoted_version(client, demos, staff, celery_worker):
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    before = wait_until_finished(client, _upload(client)["status_url"], celery_worker)
    assert before["model_version"]["number"] == served.number

    other = demo.versions.exclude(pk=served.pk).get(number=1)
    version_services.model_version_promote(version=other, actor=staff, reason="test")

    after = wait_until_finished(client, _upload(client)["status_url"], celery_worker)
    assert after["model_version"]["number"] == other.number
    assert after["result"]["label"] == "dog"
    assert celery_worker.poll() is None  # the same worker process, never restarted
