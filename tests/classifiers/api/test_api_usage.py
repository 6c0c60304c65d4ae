"""The "Use it from curl / Python" section on each demo page."""

from classifiers.models import Demo


def test_it_shows_how_to_call_the_api_on_a_live_demo_page(client, demos):
    html = client.get("/demos/dog-breeds/").content.decode()
    assert "Use it from curl / Python" in html
    assert (
        "curl -F demo=dog-breeds -F image=@photo.jpg http://testserver/api/v1/predictions/" in html
    )
    assert 'data={"demo": "dog-breeds"}' in html
    assert 'href="/api/docs/"' in html


def test_it_shows_no_api_usage_on_a_demo_that_takes_no_uploads(client, demos):
    Demo.objects.filter(slug="dog-breeds").update(promoted_version=None)
    assert "Use it from curl / Python" not in client.get("/demos/dog-breeds/").content.decode()


def test_the_sample_asks_with_a_long_poll_not_a_busy_loop(client, demos):
    page = client.get("/demos/cats-vs-dogs/").content.decode()

    assert "?wait=20" in page
    assert 'params={"wait": 20}' in page.replace("&quot;", '"')
