"""Flags in the admin: listed read-only, with a link to the review page."""

from classifiers.feedback import services
from classifiers.models import Flag
from tests.classifiers.answers import answered


def test_the_admin_lists_flags_read_only_with_a_link_to_review(client, staff, demo, alice):
    prediction = answered(demo, owner=alice)
    flag = services.flag_create(
        prediction=prediction, label="cat", client_key="addr:x", via_share=True
    )
    client.force_login(staff)
    html = client.get("/admin/classifiers/flag/").content.decode()
    assert 'href="/staff/flags/cats-vs-dogs/"' in html
    assert "dog (96%)" in html
    change = client.get(f"/admin/classifiers/flag/{flag.pk}/change/")
    assert change.status_code == 200
    assert "addr:x" not in change.content.decode()
    assert client.post(f"/admin/classifiers/flag/{flag.pk}/delete/").status_code == 403
    assert Flag.objects.filter(pk=flag.pk).exists()
