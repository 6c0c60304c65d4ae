"""Anyone who sees an answer says it is wrong and what it should be: its
owner on its page, anyone with its shared link on the shared page. No
account needed; one flag per answer per client; FLAG_RATE per client."""

import pytest
from django.test import Client, override_settings

from classifiers.models import Flag
from classifiers.predictions import services as prediction_services
from tests.classifiers.answers import NEITHER, answered, text_of
from tests.classifiers.feedback.conftest import shared_url, visitor
from tests.conftest import jpeg_bytes


def _flag(client, url: str, label: str = "cat", comment: str = "", **extra):
    return client.post(f"{url}flag/", {"label": label, "comment": comment}, **extra)


def test_the_owner_offers_the_demos_answers_to_choose_from(as_alice, answer):
    html = as_alice.get(f"/predictions/{answer.id}/").content.decode()
    assert "Is this answer wrong?" in html
    assert f'action="/predictions/{answer.id}/flag/"' in html
    assert '<option value="cat">cat</option>' in html
    assert '<option value="dog">dog</option>' in html
    assert '<option value="neither">not a cat or dog</option>' in html


def test_the_owner_flags_her_wrong_answer(as_alice, alice, answer):
    response = _flag(as_alice, f"/predictions/{answer.id}/", "cat", "It is my cat, Tom.")
    assert response.status_code == 302
    assert response["Location"] == f"/predictions/{answer.id}/#flag"
    flag = Flag.objects.get()
    assert (flag.prediction, flag.demo, flag.model_version) == (
        answer,
        answer.demo,
        answer.model_version,
    )
    assert (flag.answer, flag.label, flag.comment) == ("dog (96%)", "cat", "It is my cat, Tom.")
    assert (flag.status, flag.via_share, flag.client_key) == ("open", False, f"user:{alice.pk}")

    html = text_of(as_alice.get(response["Location"]).content.decode())
    assert "Thank you: the site's staff will look at it" in html
    assert "You have flagged this answer: thank you." in html


def test_a_visitor_flags_a_shared_answer_without_an_account(answer):
    url = shared_url(answer)
    browser = visitor()
    html = browser.get(url).content.decode()
    assert f'action="{url}flag/"' in html
    response = _flag(browser, url, "neither", "A fox.")
    assert response.status_code == 302
    assert response["Location"] == f"{url}#flag"
    flag = Flag.objects.get()
    assert (flag.label, flag.via_share) == ("neither", True)
    assert flag.client_key.startswith("addr:")
    assert "You have flagged this answer: thank you." in browser.get(url).content.decode()


def test_a_stranger_cannot_flag_a_private_answer(client, bob, answer):
    client.force_login(bob)
    assert _flag(client, f"/predictions/{answer.id}/").status_code == 404
    assert client.get(f"/predictions/{answer.id}/flag/").status_code == 404
    assert _flag(visitor(), f"/predictions/{answer.id}/").status_code == 404
    assert _flag(visitor(), "/shared/not-a-real-token/").status_code == 404
    assert not Flag.objects.exists()


def test_an_unshared_answer_cannot_be_flagged_through_its_old_link(answer):
    url = shared_url(answer)
    prediction_services.prediction_unshare(prediction=answer)
    assert _flag(visitor(), url).status_code == 404
    assert not Flag.objects.exists()


def test_one_flag_per_answer_per_client(as_alice, answer):
    _flag(as_alice, f"/predictions/{answer.id}/", "cat")
    response = _flag(as_alice, f"/predictions/{answer.id}/", "neither")
    assert response.status_code == 409
    assert "You have flagged this answer already: thank you." in response.content.decode()
    assert Flag.objects.get().label == "cat"
    # Another client may flag it too.
    url = shared_url(answer)
    assert _flag(visitor(), url, "neither").status_code == 302
    assert Flag.objects.count() == 2


@override_settings(FLAG_RATE="2/hour")
def test_flags_are_rate_limited_per_client(demo, alice):
    urls = [shared_url(answered(demo, owner=alice)) for _ in range(4)]
    browser = visitor("198.51.100.7")
    for url in urls[:2]:
        assert _flag(browser, url).status_code == 302
    response = _flag(browser, urls[2])
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "You have flagged many answers already; please try again in" in text_of(
        response.content.decode()
    )
    assert Flag.objects.count() == 2
    # A new session is the same client; another address is another one.
    assert _flag(visitor("198.51.100.7"), urls[3]).status_code == 429
    assert _flag(visitor("203.0.113.9"), urls[3]).status_code == 302


@override_settings(FLAG_RATE="1/hour")
def test_a_refused_flag_does_not_spend_the_allowance(as_alice, demo, alice, answer):
    _flag(as_alice, f"/predictions/{answer.id}/", "dog")  # the model's own answer: refused
    assert _flag(as_alice, f"/predictions/{answer.id}/", "cat").status_code == 302


@pytest.mark.parametrize(
    ("label", "comment", "message"),
    [
        ("", "", "Say what it should be."),
        ("giraffe", "", "Choose one of the answers listed."),
        ("dog", "", "That is what the model answered: choose what it should have said."),
        ("cat", "x" * 1001, "Ensure this value has at most 1000 characters (it has 1001)."),
    ],
)
def test_it_says_what_is_wrong_with_a_flag(as_alice, answer, label, comment, message):
    response = _flag(as_alice, f"/predictions/{answer.id}/", label, comment)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in text_of(html)
    assert f'action="/predictions/{answer.id}/flag/"' in html  # the form, to try again
    assert not Flag.objects.exists()


def test_a_refusal_is_flagged_with_what_it_is(as_alice, demo, alice):
    refused = answered(demo, owner=alice, outcome=NEITHER)
    url = f"/predictions/{refused.id}/"
    response = _flag(as_alice, url, "neither")
    assert response.status_code == 400
    assert "That is what the model answered" in response.content.decode()
    assert _flag(as_alice, url, "cat").status_code == 302
    assert Flag.objects.get().answer == "Neither a cat nor a dog."


def test_it_refuses_to_flag_what_is_not_answered_yet(as_alice, demo, alice):
    queued = prediction_services.prediction_create(demo=demo, data=jpeg_bytes(), owner=alice)
    assert (
        "Is this answer wrong?" not in as_alice.get(f"/predictions/{queued.id}/").content.decode()
    )
    response = _flag(as_alice, f"/predictions/{queued.id}/")
    assert response.status_code == 400
    assert "Only an answer can be flagged" in response.content.decode()


def test_dog_breeds_offers_its_breeds_and_not_a_dog(client, demos, alice):
    beagle = answered(
        demos["dog-breeds"],
        owner=alice,
        outcome={"status": "done", "label": "beagle", "score": 0.8, "top": []},
    )
    client.force_login(alice)
    html = client.get(f"/predictions/{beagle.id}/").content.decode()
    assert '<option value="golden retriever">golden retriever</option>' in html
    assert '<option value="not a dog">not a dog</option>' in html
    assert '<option value="dog">' not in html  # a breed is asked for, not "dog"
    assert _flag(client, f"/predictions/{beagle.id}/", "golden retriever").status_code == 302


def test_the_lookalike_takes_a_written_name(client, demos, alice):
    hanks = answered(
        demos["celebrity-lookalike"],
        owner=alice,
        outcome={
            "status": "done",
            "label": "Tom Hanks",
            "score": 0.2,
            "top": [{"label": "Tom Hanks", "score": 0.2, "likeness": 70}],
            "details": {"same_person": False, "gallery_size": 4032},
        },
    )
    client.force_login(alice)
    url = f"/predictions/{hanks.id}/"
    html = client.get(url).content.decode()
    assert '<input type="text" name="label"' in html
    assert _flag(client, url, "tom hanks").status_code == 400  # what it said
    assert _flag(client, url, "x" * 121).status_code == 400
    assert _flag(client, url, "  Ada   Lovelace ").status_code == 302
    assert Flag.objects.get().label == "Ada Lovelace"


def test_the_flag_form_has_a_page_of_its_own(as_alice, answer):
    """For a browser without JavaScript or a link: GET shows the form alone."""
    response = as_alice.get(f"/predictions/{answer.id}/flag/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Cats vs dogs answered: <strong>dog (96%)</strong>" in html
    assert f'href="/predictions/{answer.id}/"' in html


def test_the_shared_flag_page_shows_nothing_of_the_owner(answer):
    url = shared_url(answer)
    html = Client().get(f"{url}flag/").content.decode()
    assert "alice" not in html
    assert str(answer.id) not in html
    assert f'href="{url}"' in html
