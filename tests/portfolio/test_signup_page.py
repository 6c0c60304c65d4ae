"""The sign-up page is laid out like the site: each field with its label
above, its help as a hint under it that a screen reader links to the field."""

from __future__ import annotations

import re


def test_each_field_has_a_label_above_and_its_help_as_a_linked_hint(client, db):
    html = client.get("/accounts/signup/").content.decode()
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    assert html.count('<div class="form-row">') == 3
    for field in ("username", "password1", "password2"):
        assert f'<label for="id_{field}">' in html
        assert re.search(
            rf'<input [^>]*aria-describedby="id_{field}_helptext"[^>]*id="id_{field}"', html
        )
        assert f'<div class="hint" id="id_{field}_helptext">' in html
    assert 'class="helptext"' not in html  # Django's inline help text is gone


def test_a_mistake_is_shown_under_its_field_and_marked_for_screen_readers(client, db):
    response = client.post(
        "/accounts/signup/", {"username": "ann", "password1": "x", "password2": "y"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<div class="form-row has-error">' in html
    assert re.search(r'<input [^>]*aria-invalid="true"[^>]*id="id_password2"', html)
    assert "The two password fields didn’t match." in html


def test_a_new_account_lands_on_its_history(client, db):
    response = client.post(
        "/accounts/signup/",
        {"username": "ann", "password1": "a-long-passphrase-9", "password2": "a-long-passphrase-9"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/history/"
