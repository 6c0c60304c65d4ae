"""A recruiter (no account) in a real browser, at desktop and phone sizes:
the gallery, then each demo by an example and by an uploaded photo."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_gallery_shows_every_demo_as_a_card(page, screenshot):
    page.goto("/")
    cards = page.locator("article.card")
    assert cards.count() == 3
    for title in ("Cats vs dogs", "Dog breeds", "Celebrity look-alike"):
        assert page.get_by_role("link", name=title, exact=False).first.is_visible()
    screenshot(page, "gallery")
