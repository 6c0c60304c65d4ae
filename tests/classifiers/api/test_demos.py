"""GET /api/v1/demos/: public, so there is no stranger to try."""

from classifiers.models import Demo


def test_it_lists_the_demos_with_the_version_each_serves(anon, demos):
    response = anon.get("/api/v1/demos/")
    assert response.status_code == 200
    body = {demo["slug"]: demo for demo in response.json()}
    assert {"cats-vs-dogs", "dog-breeds", "celebrity-lookalike"} <= set(body)
    cats = body["cats-vs-dogs"]
    served = demos["cats-vs-dogs"].promoted_version
    assert cats["title"] == demos["cats-vs-dogs"].title
    assert cats["kind"] == "imagenet-subset"
    assert cats["live"] is True
    assert cats["page_url"] == "http://testserver/demos/cats-vs-dogs/"
    assert cats["promoted_version"]["number"] == served.number
    assert cats["promoted_version"]["name"] == served.name
    assert cats["promoted_version"]["metrics"]["accuracy"] == served.metrics["accuracy"]


def test_it_shows_a_demo_that_serves_no_version_yet_as_not_live(anon, demos):
    Demo.objects.filter(slug="dog-breeds").update(promoted_version=None)
    body = {demo["slug"]: demo for demo in anon.get("/api/v1/demos/").json()}
    assert body["dog-breeds"]["live"] is False
    assert body["dog-breeds"]["promoted_version"] is None
