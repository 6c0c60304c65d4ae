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


def test_it_shows_the_accuracy_with_its_sample_size_interval_and_set(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    version.metrics = {
        "accuracy": 0.9338,
        "figures": [
            {
                "key": "accuracy",
                "label": "Right answer",
                "value": 0.9338,
                "k": 747,
                "n": 800,
                "unit": "photos",
                "interval": True,
                "measured_on": "800 photos from the Kaggle dogs-vs-cats test set",
            }
        ],
    }
    version.save()

    cats = _cards(client.get("/"))["Cats vs dogs"]
    assert "Right answer: <strong>93.4% (91.4–94.9%, 800 photos)</strong>" in cats
    assert "800 photos from the Kaggle dogs-vs-cats test set" in cats
    assert "not measured" not in cats


def test_the_shipped_imagenet_figures_say_how_many_photos_and_which_set_in_words(client, demos):
    cards = _cards(client.get("/"))
    for title in ("Cats vs dogs", "Dog breeds"):
        card = cards[title]
        assert re.search(r"<strong>\d+\.\d% \(\d+\.\d–\d+\.\d%, \d+ [a-z ]*photos\)</strong>", card)
        assert "Kaggle" in card
        for internal in ("shared/data", "calibration/", "breeds-kaggle", "labels.csv", "../"):
            assert internal not in card


def test_a_figure_measured_before_sizes_were_stored_says_so(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    version.metrics = {"accuracy": 0.97, "evaluated_on": "Oxford-IIIT Pets"}
    version.save()

    cats = _cards(client.get("/"))["Cats vs dogs"]
    assert "Accuracy: <strong>97.0% (sample size not recorded)</strong>" in cats
    assert "Oxford-IIIT Pets" in cats


def test_it_says_when_the_accuracy_was_not_measured(client, demos):
    version = demos["cats-vs-dogs"].promoted_version
    version.metrics = {}
    version.save()

    cats = _cards(client.get("/"))["Cats vs dogs"]
    assert "Accuracy not measured yet" in cats
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
