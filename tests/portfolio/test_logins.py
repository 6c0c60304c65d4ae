"""Login throttling (django-axes) on the site's and the admin's login pages,
and password reset offered only when the site can send mail."""

from datetime import timedelta

import pytest
from django.core import mail

PASSWORD = "a-long-passphrase-3"  # the staff fixture's
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def _login(client, url, password, *, address="203.0.113.7"):
    return client.post(url, {"username": "staff", "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_it_refuses_the_right_password_after_25_wrong_ones(client, staff, url):
    for _ in range(25):
        _login(client, url, "wrong guess")

    response = _login(client, url, PASSWORD)

    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed login attempts" in html
    assert "Logging in is blocked for 15 minutes" in html
    assert not _logged_in(client)


def test_it_does_not_say_how_many_tries_are_left(client, staff):
    for _ in range(3):
        response = _login(client, "/accounts/login/", "wrong guess")
    assert response.status_code == 200  # the form again, with Django's own message
    html = response.content.decode()
    assert "Please enter a correct username and password" in html
    for hint in ("attempt", "remaining", "left"):
        assert hint not in html.lower()


def test_it_locks_out_after_five_failures_not_before(client, staff):
    for _ in range(4):
        _login(client, "/accounts/login/", "wrong guess")
    response = _login(client, "/accounts/login/", PASSWORD)
    assert response.status_code == 302  # four wrong, then right: in
    assert _logged_in(client)


def test_a_success_starts_the_count_again(client, staff):
    for _ in range(4):
        _login(client, "/accounts/login/", "wrong guess")
    assert _login(client, "/accounts/login/", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "/accounts/login/", "wrong guess")
    assert _login(client, "/accounts/login/", PASSWORD).status_code == 302


def test_a_stranger_elsewhere_cannot_lock_staff_out(client, staff):
    for _ in range(25):
        _login(client, "/admin/login/", "wrong guess", address="198.51.100.66")
    response = _login(client, "/admin/login/", PASSWORD, address="203.0.113.7")
    assert response.status_code == 302
    assert _logged_in(client)


def test_the_lockout_ends_after_the_cool_off(client, staff):
    from axes.models import AccessAttempt
    from django.utils import timezone

    for _ in range(6):
        _login(client, "/accounts/login/", "wrong guess")
    assert _login(client, "/accounts/login/", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert _login(client, "/accounts/login/", PASSWORD).status_code == 302
    assert _logged_in(client)


# -- password reset ------------------------------------------------------------------

RESET_URLS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
]


def test_it_hides_password_reset_when_no_mail_is_set_up(client, staff, settings):
    settings.PASSWORD_RESET_BY_MAIL = False
    assert "password_reset" not in client.get("/accounts/login/").content.decode()
    for url in RESET_URLS:
        assert client.get(url).status_code == 404, url
    response = client.post("/accounts/password_reset/", {"email": "staff@example.org"})
    assert response.status_code == 404
    assert mail.outbox == []


def test_it_offers_password_reset_by_mail_when_mail_is_set_up(client, staff, settings):
    settings.PASSWORD_RESET_BY_MAIL = True  # EMAIL_URL set; the test backend keeps the mail
    staff.email = "staff@example.org"
    staff.save()

    login_page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in login_page
    response = client.post("/accounts/password_reset/", {"email": "staff@example.org"})
    assert response.status_code == 302
    assert "Check your mail" in client.get(response["Location"]).content.decode()
    (message,) = mail.outbox
    assert message.to == ["staff@example.org"]

    link = next(line for line in message.body.splitlines() if "/accounts/reset/" in line)
    path = link[link.index("/accounts/reset/") :].strip()
    form = client.get(path, follow=True)
    assert "Choose a new password" in form.content.decode()
    new_password = "another-long-passphrase-9"
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert "Your new password is set" in done.content.decode()
    staff.refresh_from_db()
    assert staff.check_password(new_password)


def test_behind_trusted_proxies_it_counts_the_address_they_forwarded(client, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"  # every request arrives from the proxy
    for _ in range(25):
        client.post(
            "/accounts/login/",
            {"username": "staff", "password": "wrong guess"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="198.51.100.66",
        )
    response = client.post(
        "/accounts/login/",
        {"username": "staff", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert response.status_code == 302
