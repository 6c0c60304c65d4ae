"""A recruiter (no account) in a real browser, at desktop and phone sizes:
the gallery, then each demo by an example and by an uploaded photo, the
answer with its bars and heatmap, announced and in view; keyboard use; a
permalink opened by someone else; the upload without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ANSWER_LIMIT_MS
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.browser

# slug -> (example to click, its caption; photo to upload; answer shape)
DEMOS = {
    "cats-vs-dogs": ("Cat", "golden-retriever.jpg", re.compile(r"^(cat|dog)\b", re.I)),
    "dog-breeds": ("Dalmatian", "golden-retriever.jpg", re.compile(r"\w")),
    "celebrity-lookalike": (
        "Two people",
        "kit-harington.jpg",
        re.compile(r"^(This is|You look most like) \w"),
    ),
}
ANSWERED = re.compile(r"^Answer: ")
HEATMAP = {"cats-vs-dogs", "dog-breeds"}  # the look-alike shows faces, not a heatmap


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def in_view(page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            return box.top < window.innerHeight && box.bottom > 0;
        }""",
        selector,
    )


def wait_for_answer(page, answer_shape) -> str:
    """The answer in the live box, once the worker has given it."""
    answer = page.locator("#live-result .answer")
    answer.wait_for(timeout=ANSWER_LIMIT_MS)
    text = answer.inner_text().strip()
    assert answer_shape.search(text), text
    return text


def test_the_gallery_shows_every_demo_as_a_card(page, screenshot):
    page.goto("/")
    assert page.locator("article.card").count() == 3
    for title in ("Cats vs dogs", "Dog breeds", "Celebrity look-alike"):
        assert page.get_by_role("link", name=title, exact=True).is_visible()
    assert no_sideways_scroll(page)
    screenshot(page, "gallery")


@pytest.mark.parametrize("slug", list(DEMOS))
def test_a_recruiter_tries_an_example_and_a_photo_of_their_own(page, screenshot, slug):
    caption, photo, answer_shape = DEMOS[slug]
    page.goto(f"/demos/{slug}/")
    # Before any upload: no empty answer box, no Permalink to "#".
    assert not page.locator("#live").is_visible()
    assert not page.get_by_role("link", name="Permalink to this answer").is_visible()
    assert no_sideways_scroll(page)

    example = page.get_by_role("button", name=caption, exact=True)  # named once
    example.click()
    assert "chosen" in example.get_attribute("class")  # visible feedback at once
    wait_for_answer(page, answer_shape)
    assert page.locator("#live-result .bars li").count() >= 2
    # Announced to a screen reader, focus on the answer, and on screen (a phone too).
    assert page.locator("#live-status").inner_text().startswith("Answer: ")
    assert page.evaluate("document.activeElement.id") == "live-result"
    assert in_view(page, "#live-result .answer")
    permalink = page.get_by_role("link", name="Permalink to this answer")
    assert re.search(r"/predictions/[0-9a-f-]{36}/$", permalink.get_attribute("href"))

    page.locator("input[name=image]").set_input_files(str(EXAMPLES / photo))
    page.get_by_role("button", name="Classify").click()
    # The submit handler has said "Uploading" by now: wait for the new answer.
    expect(page.locator("#live-status")).to_have_text(ANSWERED, timeout=ANSWER_LIMIT_MS)
    assert page.locator(".example.chosen").count() == 0
    wait_for_answer(page, answer_shape)
    assert page.locator("#live-result .bars li").count() >= 2
    if slug in HEATMAP:
        heatmap = page.locator("#live-result img.heatmap")
        assert heatmap.is_visible()
        # The overlay covers the photo, not a box short of its edges.
        photo_box = page.locator("#live-result img.photo").bounding_box()
        heat_box = heatmap.bounding_box()
        assert heat_box["width"] == pytest.approx(photo_box["width"], abs=2)
        assert heat_box["height"] == pytest.approx(photo_box["height"], abs=2)
        toggle = page.locator("#live-result .hm-label")
        toggle.click()
        assert not heatmap.is_visible()
        toggle.click()
        assert heatmap.is_visible()
    assert no_sideways_scroll(page)
    screenshot(page, f"{slug}-answer")


def test_a_keyboard_user_hears_the_answer_and_sees_where_focus_is(browser_page):
    page = browser_page("desktop")
    page.goto("/demos/cats-vs-dogs/")
    page.get_by_role("button", name="Golden retriever", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#live-status")).to_have_text(ANSWERED, timeout=ANSWER_LIMIT_MS)
    expect(page.locator("#live-result")).to_be_focused()
    # The heatmap checkbox is drawn by its label: its focus shows there.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('hm-toggle')")
    outline = page.locator("#live-result .hm-label").evaluate(
        "(label) => getComputedStyle(label).outlineStyle"
    )
    assert outline != "none"
    page.keyboard.press("Space")
    assert not page.locator("#live-result img.heatmap").is_visible()


def test_a_permalink_opened_by_someone_else_is_a_styled_not_found_page(browser_page, screenshot):
    mine = browser_page("desktop")
    mine.goto("/demos/cats-vs-dogs/")
    mine.get_by_role("button", name="Cat", exact=True).click()
    mine.locator("#live-result .answer").wait_for(timeout=ANSWER_LIMIT_MS)
    permalink = mine.get_by_role("link", name="Permalink to this answer").get_attribute("href")

    stranger = browser_page("phone")
    response = stranger.goto(permalink)
    assert response.status == 404
    assert stranger.get_by_role("heading", name="Page not found").is_visible()
    assert stranger.locator(".site-header").is_visible()  # the site's own layout
    screenshot(stranger, "not-found")
    stranger.get_by_role("link", name="Try the demos yourself").click()
    expect(stranger.get_by_role("heading", name="Deep-learning demos")).to_be_visible()


def test_the_upload_works_without_javascript(browser_page):
    page = browser_page("desktop", javascript=False)
    page.goto("/demos/cats-vs-dogs/")
    page.get_by_role("button", name="Cat", exact=True).click()
    # The form posted; the prediction's page reloads itself until it has the answer.
    page.wait_for_url(re.compile(r"/predictions/[0-9a-f-]{36}/$"))
    page.locator(".prediction .answer").wait_for(timeout=ANSWER_LIMIT_MS)
    assert page.locator(".prediction .bars li").count() >= 2


def test_the_site_follows_a_dark_system_setting(browser_page, screenshot):
    page = browser_page("desktop")
    page.emulate_media(color_scheme="dark")
    page.goto("/demos/dog-breeds/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 28)"  # --bg of the dark palette
    screenshot(page, "dog-breeds-dark")
