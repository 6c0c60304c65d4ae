"""A visitor tries a demo, signs up, finds that earlier answer in the
history, re-runs it on the served model and deletes it (asked first, with an
Undo), then reads the history on a phone."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ANSWER_LIMIT_MS

pytestmark = pytest.mark.browser

PASSWORD = "a-long-browser-passphrase"


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_visitor_signs_up_and_keeps_reruns_and_deletes_an_earlier_answer(
    browser_page, screenshot
):
    page = browser_page("desktop")
    page.goto("/demos/cats-vs-dogs/")
    page.get_by_role("button", name="Cat", exact=True).click()
    expect(page.locator("#live-result .answer")).to_be_visible(timeout=ANSWER_LIMIT_MS)
    answer = page.locator("#live-result .answer").inner_text().strip()

    page.get_by_role("link", name="Sign up").click()
    assert page.locator("form.account-form .hint").count() >= 2  # help text as hints
    screenshot(page, "signup")
    username = f"visitor-{uuid.uuid4().hex[:8]}"
    page.get_by_label("Username").fill(username)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # The answer made before signing up is in the new account's history.
    page.wait_for_url("**/history/")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cats vs dogs")
    expect(rows.first).to_contain_text(answer.split()[0])

    # Open it and re-run it on the served model: before and now side by side.
    rows.first.get_by_role("link", name=re.compile(answer.split()[0])).click()
    page.get_by_role("button", name="Re-run on the current model").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Before \(v\d+\)"))).to_be_visible()
    expect(page.locator(".prediction-result .answer")).to_be_visible(timeout=ANSWER_LIMIT_MS)

    page.goto("/history/")
    expect(rows).to_have_count(2)
    expect(page.locator("table.history .badge", has_text="re-run")).to_have_count(1)
    screenshot(page, "history")

    # Delete the original (the row without the re-run badge): asked first ...
    original = rows.filter(has_not=page.locator(".badge"))
    questions = []

    def dismiss_then_accept(dialog):
        questions.append(dialog.message)
        dialog.dismiss() if len(questions) == 1 else dialog.accept()

    page.on("dialog", dismiss_then_accept)
    original.get_by_role("button", name=re.compile("^Delete")).click()
    assert questions[0].startswith("Delete this Cats vs dogs prediction")
    expect(rows).to_have_count(2)  # "Cancel" kept it
    original.get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.locator(".flash")).to_contain_text("Deleted your Cats vs dogs prediction")
    expect(rows).to_have_count(1)

    # ... and undone, then deleted for good.
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".flash")).to_contain_text("Restored your Cats vs dogs prediction")
    expect(rows).to_have_count(2)
    original.get_by_role("button", name=re.compile("^Delete")).click()
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".badge")).to_have_text("re-run")

    # The same history on a phone: cards, no sideways scrolling.
    phone = browser_page("phone")
    phone.goto("/accounts/login/?next=/history/")
    phone.get_by_label("Username").fill(username)
    phone.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_url("**/history/")
    expect(phone.locator("table.history tbody tr")).to_have_count(1)
    assert no_sideways_scroll(phone)
    row = phone.locator("table.history tbody tr").first.bounding_box()
    assert row["x"] >= 0 and row["x"] + row["width"] <= 390
    screenshot(phone, "history")
