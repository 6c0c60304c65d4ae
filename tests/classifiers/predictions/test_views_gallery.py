import re

from django.utils.html import escape

from classifiers.models import Demo


def _cards(response) -> dict[str, str]:
    """The gallery's cards, keyed by the demo title in their heading."""
    html = response.content.decode()
    cards = re.findall(r"<article class=\"card.*?</article>", html, re.S)
    return {re.search(r"<h2><a [^>]*>([^<]+)</a>", card).group(1): card for card in cards}


def test_it_shows_one_card_per_demo(client, demos):
    response = client.get("/")
    assert response.status_code == 200
    cards = _cards(response)
    assert list(cards) == ["Cats vs dogs", "Dog breeds", "Celebrity look-alike"]
    for demo in demos.values():
        card = cards[demo.title]
        assert escape(demo.summary) in card
        assert f'href="/demos/{demo.slug}/"' in card


def test_it_shows_the_example_images(client, demos):
    cards = _cards(client.get("/"))
    cats = cards["Cats vs dogs"]
    assert '<img src="/static/classifiers/examples/cat.jpg" alt="Cat"' in cats
    assert 'src="/static/classifiers/examples/golden-retriever.jpg"' in cats
    assert 'src="/static/classifiers/examples/fox-squirrel.jpg"' in cats
    assert 'src="/static/classifiers/examples/dalmatian.jpg"' in cards["Dog breeds"]
    assert 'src="/static/classifiers/examples/obama-and-biden.jpg"' in cards["Celebrity look-alike"]


def test_it_shows_the_served_model_version(client, demos):
    cards = _cards(client.get("/"))
    for demo in demos.values():
        served = demo.promoted_version
        assert f"Model v{served.number} · {served.name}" in cards[demo.title]
        assert "coming" not in cards[demo.title]


def test_it_shows_the_accuracy_when_it_was_measured(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    version.metrics = {"accuracy": 0.97, "evaluated_on": "Oxford-IIIT Pets, 7,349 photos"}
    version.save()

    cats = _cards(client.get("/"))["Cats vs dogs"]
    assert "accuracy 97%" in cats
    assert "Oxford-IIIT Pets, 7,349 photos" in cats
    assert "not measured" not in cats


def test_it_says_when_the_accuracy_was_not_measured(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    version.metrics = {}
    version.save()

    cats = _cards(client.get("/"))["Cats vs dogs"]
    assert "accuracy not measured yet" in cats
    assert "%" not in cats


def test_it_marks_demos_without_a_promoted_version_as_coming(client, demos):
    Demo.objects.filter(slug="dog-breeds").update(promoted_version=None)
    cards = _cards(client.get("/"))
    assert '<span class="pill">coming</span>' in cards["Dog breeds"]
    assert "Not served yet." in cards["Dog breeds"]
    assert "Model v" not in cards["Dog breeds"]
    for title in ("Cats vs dogs", "Celebrity look-alike"):
        assert "coming" not in cards[title]


def test_it_uses_few_queries(client, demos, django_assert_max_num_queries):
    # One query for the demos and their versions, whatever their number.
    with django_assert_max_num_queries(1):
        assert client.get("/").status_code == 200
