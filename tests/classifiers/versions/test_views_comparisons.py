"""Comparing a candidate version with the served one on recent real uploads (staff)."""

from classifiers.models import Comparison
from classifiers.predictions import services as prediction_services
from classifiers.versions import worker as version_worker


def _compare(client, candidate) -> Comparison:
    response = client.post(f"/demos/cats-vs-dogs/versions/{candidate.number}/compare/")
    assert response.status_code == 302
    comparison = Comparison.objects.get()
    assert response["Location"] == f"/demos/cats-vs-dogs/comparisons/{comparison.pk}/"
    return comparison


def test_it_queues_a_comparison_and_refreshes_until_it_is_done(
    client, demo, candidate, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    assert (
        "Compare with the served v3"
        in client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        comparison = _compare(client, candidate)
    assert len(callbacks) == 1
    assert (comparison.candidate, comparison.baseline, comparison.requested_by) == (
        candidate,
        demo.promoted_version,
        staff,
    )
    html = client.get(f"/demos/cats-vs-dogs/comparisons/{comparison.pk}/").content.decode()
    assert "Queued: a worker runs both versions" in html
    assert '<meta http-equiv="refresh" content="3">' in html


def test_it_lists_the_disagreements_with_both_answers_and_the_photo(
    client, candidate, staff, uploads
):
    client.force_login(staff)
    comparison = _compare(client, candidate)
    version_worker.comparison_run(comparison_id=comparison.pk)  # the worker

    response = client.get(f"/demos/cats-vs-dogs/comparisons/{comparison.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "http-equiv" not in html
    assert "2 uploads compared, 2 disagreements." in html
    assert "<th>v3 (served then)</th><th>v7 (candidate)</th>" in html
    assert "<strong>cat</strong>" in html
    assert "<strong>dog</strong>" in html
    assert html.count("refused:") == 2
    for prediction in uploads:
        assert f'src="/staff/predictions/{prediction.id}/image/"' in html
    page = client.get("/demos/cats-vs-dogs/versions/7/").content.decode()
    assert "2 of 2 uploads answered differently" in page


def test_it_says_when_a_compared_photo_was_deleted_since(client, candidate, staff, uploads):
    client.force_login(staff)
    comparison = _compare(client, candidate)
    version_worker.comparison_run(comparison_id=comparison.pk)
    prediction_services.prediction_delete(prediction=uploads[0])

    html = client.get(f"/demos/cats-vs-dogs/comparisons/{comparison.pk}/").content.decode()
    assert "deleted by its owner" in html
    assert f"/staff/predictions/{uploads[0].id}/image/" not in html
    assert f"/staff/predictions/{uploads[1].id}/image/" in html


def test_it_refuses_to_compare_the_served_version_with_itself(client, demo, staff):
    client.force_login(staff)
    html = client.get("/demos/cats-vs-dogs/versions/3/").content.decode()
    assert "Compare" not in html
    response = client.post("/demos/cats-vs-dogs/versions/3/compare/")
    assert response.status_code == 400
    assert "Compare a candidate against a different, served version." in response.content.decode()
    assert not Comparison.objects.exists()


def test_it_404s_for_a_comparison_of_another_demo(client, demo, candidate, staff):
    comparison = Comparison.objects.create(candidate=candidate, baseline=demo.promoted_version)
    client.force_login(staff)
    assert client.get(f"/demos/dog-breeds/comparisons/{comparison.pk}/").status_code == 404
    assert client.get(f"/demos/cats-vs-dogs/comparisons/{comparison.pk}/").status_code == 200


def test_it_serves_an_uploads_photo_to_staff(client, staff, uploads):
    client.force_login(staff)
    response = client.get(f"/staff/predictions/{uploads[0].id}/image/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_the_staff_image_route_does_not_exist_for_anyone_else(client, alice, uploads):
    url = f"/staff/predictions/{uploads[0].id}/image/"
    assert client.get(url).status_code == 404
    client.force_login(alice)  # even the photo's owner: her own route is /predictions/.../image/
    assert client.get(url).status_code == 404
    assert client.get(f"/predictions/{uploads[0].id}/image/").status_code == 200


def test_it_is_listed_read_only_in_the_admin(client, demo, candidate, staff):
    comparison = Comparison.objects.create(
        candidate=candidate, baseline=demo.promoted_version, requested_by=staff
    )
    client.force_login(staff)
    response = client.get("/admin/classifiers/comparison/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/demos/cats-vs-dogs/comparisons/{comparison.pk}/"' in html
    assert "Add comparison" not in html
    assert client.get(f"/admin/classifiers/comparison/{comparison.pk}/change/").status_code == 200
