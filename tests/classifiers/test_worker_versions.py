"""A running worker serves a newly promoted version without a restart."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from classifiers import services_versions
from tests.classifiers.test_worker import _wait_until_finished, celery_worker  # noqa: F401
from tests.conftest import example_bytes

pytestmark = [pytest.mark.worker]


def _upload(client):
    photo = SimpleUploadedFile("dog.jpg", example_bytes("golden-retriever.jpg"))
    response = client.post("/demos/cats-vs-dogs/", {"image": photo}, HTTP_ACCEPT="application/json")
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_the_worker_answers_with_the_newly_promoted_version(client, demos, staff, celery_worker):  # noqa: F811
    demo = demos["cats-vs-dogs"]
    served = demo.promoted_version
    before = _wait_until_finished(client, _upload(client)["status_url"], celery_worker)
    assert before["model_version"] == served.number

    other = demo.versions.exclude(pk=served.pk).get(number=1)
    services_versions.model_version_request_promotion(version=other, actor=staff, reason="test")

    after = _wait_until_finished(client, _upload(client)["status_url"], celery_worker)
    assert after["model_version"] == other.number
    assert after["result"]["label"] == "dog"
    assert celery_worker.poll() is None  # the same worker process, never restarted
