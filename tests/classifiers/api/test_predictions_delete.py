"""DELETE /api/v1/predictions/{id}/: an account deletes its own."""

import pytest

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from tests.classifiers.api.conftest import upload
from tests.conftest import jpeg_bytes


@pytest.fixture
def mine(demos, alice):
    return prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=alice
    )


def test_it_deletes_the_owners_prediction_and_its_photo(alice_api, mine):
    storage, name = mine.image.storage, mine.image.name
    response = alice_api.delete(f"/api/v1/predictions/{mine.id}/")
    assert response.status_code == 204
    assert not Prediction.objects.filter(id=mine.id).exists()
    assert not storage.exists(name)
    assert alice_api.get(f"/api/v1/predictions/{mine.id}/").status_code == 404


def test_it_answers_404_to_a_stranger_and_keeps_the_prediction(bob_api, mine):
    response = bob_api.delete(f"/api/v1/predictions/{mine.id}/")
    assert response.status_code == 404
    assert Prediction.objects.filter(id=mine.id).exists()


def test_it_lets_no_anonymous_client_delete(anon, mine, demos):
    own_upload = upload(anon).json()["id"]
    for prediction_id in (mine.id, own_upload):
        response = anon.delete(f"/api/v1/predictions/{prediction_id}/")
        assert response.status_code == 401
    assert Prediction.objects.filter(id__in=[mine.id, own_upload]).count() == 2


def test_it_lets_no_account_delete_an_anonymous_upload_it_can_read(anon, bob_api, demos):
    prediction_id = upload(anon).json()["id"]
    assert bob_api.get(f"/api/v1/predictions/{prediction_id}/").status_code == 200
    assert bob_api.delete(f"/api/v1/predictions/{prediction_id}/").status_code == 404
    assert Prediction.objects.filter(id=prediction_id).exists()
