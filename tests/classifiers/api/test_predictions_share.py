"""/api/v1/predictions/{id}/share/: the owner shares an answer with a link, or stops."""

import pytest
from django.test import Client

from classifiers.predictions import services as prediction_services
from tests.classifiers.answers import answered
from tests.classifiers.api.conftest import upload
from tests.conftest import jpeg_bytes


@pytest.fixture
def mine(demos, alice):
    return answered(demos["cats-vs-dogs"], owner=alice)


def _url(prediction) -> str:
    return f"/api/v1/predictions/{prediction.id}/share/"


def test_the_owner_shares_an_answer_with_its_photo(alice_api, mine):
    response = alice_api.post(_url(mine), {"show_photo": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    mine.refresh_from_db()
    link = f"http://testserver/shared/{mine.share_token}/"
    assert body == {"shared": True, "url": link, "show_photo": True}
    page = Client().get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert f'src="/shared/{mine.share_token}/image/"' in page.content.decode()
    assert alice_api.get(_url(mine)).json() == body


def test_it_shares_the_answer_alone_by_default(alice_api, mine):
    body = alice_api.post(_url(mine), {}, format="json").json()
    assert (body["shared"], body["show_photo"]) == (True, False)
    path = body["url"].removeprefix("http://testserver")
    assert Client().get(f"{path}image/").status_code == 404


def test_unsharing_kills_the_link(alice_api, mine):
    link = alice_api.post(_url(mine), {}, format="json").json()["url"]
    assert alice_api.delete(_url(mine)).status_code == 204
    assert Client().get(link.removeprefix("http://testserver")).status_code == 404
    assert alice_api.get(_url(mine)).json() == {"shared": False, "url": None, "show_photo": False}


def test_a_stranger_gets_404_and_changes_nothing(bob_api, anon, alice_api, mine):
    alice_api.post(_url(mine), {}, format="json")
    for client in (bob_api, anon):
        assert client.get(_url(mine)).status_code == 404
        assert client.post(_url(mine), {"show_photo": True}, format="json").status_code == 404
        assert client.delete(_url(mine)).status_code == 404
    mine.refresh_from_db()
    assert (mine.is_shared, mine.share_photo) == (True, False)


def test_it_refuses_to_share_what_is_not_answered(alice_api, demos, alice):
    queued = prediction_services.prediction_create(
        demo=demos["cats-vs-dogs"], data=jpeg_bytes(), owner=alice
    )
    response = alice_api.post(_url(queued), {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "Only an answer can be shared: wait until the model has answered.",
        "code": "not_answered",
    }


def test_it_refuses_a_bad_field(alice_api, mine):
    response = alice_api.post(_url(mine), {"show_photo": "perhaps"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "show_photo" in response.json()["fields"]


def test_an_anonymous_api_client_shares_its_own_upload_by_its_id(anon, demos):
    """Its id is what proves it made the upload (as for reading it)."""
    prediction_id = upload(anon).json()["id"]
    url = f"/api/v1/predictions/{prediction_id}/share/"
    response = anon.post(url, {}, format="json")
    assert response.status_code == 400  # not answered yet: but not 404
    assert response.json()["code"] == "not_answered"
