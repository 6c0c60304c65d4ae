"""Staff review flags per demo and, in one action, add the photo with the
right label to the demo's evaluation set, or dismiss the flag."""

import pytest

from classifiers.feedback import services
from classifiers.models import EvaluationSet, Flag
from tests.classifiers.answers import answered, text_of
from tests.conftest import example_bytes


@pytest.fixture
def flag(demo, alice) -> Flag:
    """Alice says her cat, called a dog, is a cat."""
    prediction = answered(demo, owner=alice, data=example_bytes("cat.jpg"))
    return services.flag_create(
        prediction=prediction,
        label="cat",
        comment="It is my cat, Tom.",
        client_key=f"user:{alice.pk}",
        via_share=False,
    )


@pytest.fixture
def as_staff(client, staff):
    client.force_login(staff)
    return client


REVIEW = "/staff/flags/cats-vs-dogs/"


def test_staff_see_the_open_flags_of_each_demo(as_staff, flag):
    overview = text_of(as_staff.get("/staff/flags/").content.decode())
    assert "Cats vs dogs 1 1" in overview
    assert "Dog breeds 0 0" in overview

    html = as_staff.get(REVIEW).content.decode()
    assert f'<img class="thumb" src="/staff/predictions/{flag.prediction_id}/image/"' in html
    text = text_of(html)
    assert "dog (96%)" in text
    assert "It is my cat, Tom." in text
    assert "by its owner" in text
    assert '<option value="cat" selected>cat</option>' in html  # what the flag says
    assert f'action="/staff/flags/{flag.pk}/add/"' in html
    assert f'action="/staff/flags/{flag.pk}/dismiss/"' in html
    assert "No evaluation set yet: the first photo added makes one" in text


def test_the_header_links_staff_to_the_flags(as_staff, db):
    assert 'href="/staff/flags/"' in as_staff.get("/").content.decode()


def test_staff_add_the_photo_in_one_action(as_staff, staff, flag):
    response = as_staff.post(f"/staff/flags/{flag.pk}/add/", {"label": "cat"})
    assert response.status_code == 302
    assert response["Location"] == REVIEW
    text = text_of(as_staff.get(REVIEW).content.decode())
    assert "Added the photo to “Corrected answers” as “cat”: it holds 1 photo now." in text
    assert "No open flags." in text
    evaluation_set = EvaluationSet.objects.get()
    assert evaluation_set.label_counts == {"cat": 1}

    added = text_of(as_staff.get(f"{REVIEW}?status=added").content.decode())
    assert "added to the evaluation set as “cat” in “Corrected answers”" in added
    assert "staff," in added


def test_staff_dismiss_a_flag(as_staff, flag):
    response = as_staff.post(f"/staff/flags/{flag.pk}/dismiss/")
    assert response.status_code == 302
    assert "Flag dismissed." in text_of(as_staff.get(REVIEW).content.decode())
    assert Flag.objects.get().status == "dismissed"
    assert not EvaluationSet.objects.exists()
    assert "It is my cat, Tom." in as_staff.get(f"{REVIEW}?status=dismissed").content.decode()


def test_it_says_why_a_photo_was_not_added(as_staff, flag):
    as_staff.post(f"/staff/flags/{flag.pk}/add/", {"label": "giraffe"})
    text = text_of(as_staff.get(REVIEW).content.decode())
    assert "Not added: Choose one of the answers listed." in text
    as_staff.post(f"/staff/flags/{flag.pk}/dismiss/")
    as_staff.post(f"/staff/flags/{flag.pk}/add/", {"label": "cat"})
    assert "Not added: This flag was dismissed already." in text_of(
        as_staff.get(REVIEW).content.decode()
    )
    assert Flag.objects.get().status == "dismissed"


def test_a_flag_of_a_deleted_upload_is_shown_without_its_photo(as_staff, flag):
    flag.prediction.delete()  # by its owner
    html = as_staff.get(REVIEW).content.decode()
    assert "deleted by its owner" in html
    assert f'action="/staff/flags/{flag.pk}/add/"' not in html
    assert f'action="/staff/flags/{flag.pk}/dismiss/"' in html


def test_it_404s_an_unknown_flag_or_demo(as_staff, db):
    assert as_staff.post("/staff/flags/999/add/", {"label": "cat"}).status_code == 404
    assert as_staff.post("/staff/flags/999/dismiss/").status_code == 404
    assert as_staff.get("/staff/flags/no-such-demo/").status_code == 404


def test_only_staff_review_flags(client, alice, flag):
    pages = [
        ("get", "/staff/flags/"),
        ("get", REVIEW),
        ("post", f"/staff/flags/{flag.pk}/add/"),
        ("post", f"/staff/flags/{flag.pk}/dismiss/"),
    ]
    for method, url in pages:
        response = getattr(client, method)(url, {"label": "cat"} if method == "post" else {})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
    client.force_login(alice)
    for method, url in pages:
        response = getattr(client, method)(url, {"label": "cat"} if method == "post" else {})
        assert response.status_code == 403, url
    assert Flag.objects.get().status == "open"
    assert 'href="/staff/flags/"' not in client.get("/").content.decode()


def test_staff_read_a_refusal_label_as_the_demo_says_it(as_staff, demo, alice):
    prediction = answered(demo, owner=alice)
    services.flag_create(
        prediction=prediction, label="neither", client_key="addr:x", via_share=True
    )
    html = as_staff.get(REVIEW).content.decode()
    assert "<strong>not a cat or dog</strong>" in html
    assert '<option value="neither" selected>not a cat or dog</option>' in html
    assert "on the shared page" in html
