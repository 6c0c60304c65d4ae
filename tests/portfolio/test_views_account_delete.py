"""/accounts/delete/: a user deletes the account and everything of it (finding 11)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import example_bytes, jpeg_bytes

URL = "/accounts/delete/"


def _files(prediction: Prediction) -> list[str]:
    return [f.name for f in (prediction.image, prediction.heatmap) if f]


@pytest.fixture
def alices(demos, alice):
    """Alice's token and two predictions, one with a heatmap."""
    Token.objects.create(user=alice)
    explained = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=example_bytes("cat.jpg"), owner=alice
    )
    prediction_worker.prediction_run(prediction_id=explained.id)
    explained.refresh_from_db()
    assert explained.heatmap
    queued = prediction_services.prediction_create(
        demo=demos["dog-breeds"], data=jpeg_bytes(), owner=alice
    )
    return [explained, queued]


@pytest.fixture
def bobs(demos, bob):
    Token.objects.create(user=bob)
    return prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=bob
    )


def test_it_asks_a_visitor_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/delete/"


def test_it_says_what_will_be_deleted(client, alice, alices):
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Delete your account</h1>" in html
    assert "your account, <strong>alice</strong>;" in html
    assert "your 2 predictions, with their photos and heatmaps;" in html
    assert "your API token: programs using it are refused from then on." in html
    assert 'type="password" name="password"' in html
    assert '<a href="/accounts/delete/">' in client.get("/accounts/token/").content.decode()


def test_it_deletes_nothing_without_the_right_password(client, alice, alices):
    client.force_login(alice)
    response = client.post(URL, {"password": "not-my-password"})
    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert get_user_model().objects.filter(username="alice").exists()
    assert Prediction.objects.filter(owner=alice).count() == 2


def test_it_deletes_the_account_its_predictions_files_and_token_but_no_strangers(
    client, alice, alices, bob, bobs
):
    storage = bobs.image.storage
    files = [name for prediction in alices for name in _files(prediction)]
    assert len(files) == 3 and all(storage.exists(name) for name in files)
    client.force_login(alice)

    response = client.post(URL, {"password": "a-long-passphrase-1"}, follow=True)

    assert response.redirect_chain == [("/", 302)]
    html = response.content.decode()
    assert "Your account, its 2 predictions with their photos, and its API token are deleted." in (
        html
    )
    assert "Log in" in html  # signed out
    assert not get_user_model().objects.filter(username="alice").exists()
    assert not Prediction.objects.filter(id__in=[p.id for p in alices]).exists()
    assert not any(storage.exists(name) for name in files)
    assert list(Token.objects.values_list("user__username", flat=True)) == ["bob"]
    # The stranger's account, prediction, photo and token are untouched.
    assert list(Prediction.objects.all()) == [bobs]
    assert storage.exists(bobs.image.name)
    other = Client()
    other.force_login(bob)
    assert other.get(f"/predictions/{bobs.id}/").status_code == 200
    token = Token.objects.get(user=bob).key
    assert (
        Client().get("/api/v1/predictions/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    )


def test_it_refuses_a_deleted_accounts_token(client, alice, alices):
    token = Token.objects.get(user=alice).key
    client.force_login(alice)
    client.post(URL, {"password": "a-long-passphrase-1"})
    response = Client().get("/api/v1/predictions/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401
