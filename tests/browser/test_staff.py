"""A staff member in a real browser: uploads a model version, waits for a
worker to validate it, promotes it through the confirmation page, sees the
demo page describe it, and rolls back.

The version is EfficientNet-Lite0 as built at set-up, uploaded like any
network (its size is read from the file; the form asks only how it scales
and crops photos). The browser tests' site has no evaluation set, so the
confirmation page warns that the version was never measured and asks for
"serve it anyway".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.browser

STAFF, PASSWORD = "ops-browser", "a-long-passphrase-for-ops"
VALIDATION_LIMIT_MS = 180_000  # a worker loads, checks and times the network


@pytest.fixture
def staff_page(live_site, browser_page):
    if STAFF not in live_site.users:
        live_site.create_user(STAFF, PASSWORD, staff=True)
    page = browser_page("desktop")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(STAFF)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form").get_by_role("button").click()
    page.wait_for_url(re.compile(r"/$"))
    return page


def _served_line(page) -> str:
    page.goto("/demos/cats-vs-dogs/")
    return page.locator("main p.meta").first.inner_text()


def test_staff_upload_validate_promote_and_roll_back_a_version(staff_page, screenshot):
    page = staff_page
    before = _served_line(page)
    assert before.startswith("Serving model v3 · EfficientNet-Lite2")

    # Upload: nothing is copied from the served v3 (which takes 260 px photos).
    page.goto("/demos/cats-vs-dogs/versions/")
    page.get_by_role("link", name="Upload a new version").click()
    assert page.get_by_label("Input size (pixels)").input_value() == ""
    page.get_by_label("Model file").set_input_files(
        str(Path(settings.ML_MODELS_DIR) / "efficientnet_lite0.keras")
    )
    page.get_by_label("Name").fill("Lite0 uploaded in a browser")
    page.get_by_label("Pixel scaling the network was trained with").select_option("lite")
    page.get_by_label("Centre crop").fill("0.875")
    page.get_by_label("Notes").fill("The shipped Lite0, uploaded again as a staff test.")
    page.get_by_role("button", name="Upload and validate").click()
    page.wait_for_url(re.compile(r"/demos/cats-vs-dogs/versions/\d+/$"))
    number = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert page.get_by_text(f"Uploaded as v{number}: a worker validates it.").is_visible()

    # The page refreshes itself until the worker's verdict.
    page.get_by_text("Status: ready").wait_for(timeout=VALIDATION_LIMIT_MS)
    assert page.get_by_text("Input size 224×224 read from the model.").is_visible()
    assert page.get_by_text("A Keras functional model").is_visible()

    # Promote: the confirmation page first, with its warning.
    page.get_by_role("link", name=f"Promote v{number}…").click()
    page.wait_for_url(f"**/versions/{number}/promote/")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == f"Serve v{number} · Lite0 uploaded in a browser?"
    assert page.get_by_text("Think twice: the figures do not back this version").is_visible()
    assert page.get_by_text(f"No figures: v{number} was never measured").is_visible()
    assert page.get_by_text("97.0% (95.6–98.0%, 800 photos)").first.is_visible()  # the served v3
    page.get_by_label("Why promote it? (kept in the audit trail)").fill("browser test")
    page.get_by_role("button", name=f"Serve v{number} anyway").click()
    assert page.get_by_text("Tick “serve it anyway”").is_visible()  # refused without the box
    page.get_by_label("Serve it anyway: I have read the warnings above.").check()
    page.get_by_role("button", name=f"Serve v{number} anyway").click()
    page.wait_for_url(f"**/versions/{number}/")
    assert page.get_by_text(f"v{number} is now served.").is_visible()

    # The demo page now describes the uploaded network, not EfficientNet-Lite.
    assert _served_line(page).startswith(f"Serving model v{number} · Lite0 uploaded in a browser")
    description = page.locator("p.custom-version").inner_text()
    assert description.startswith("It now runs a network uploaded by the site's staff:")
    assert "EfficientNet-Lite network" not in page.locator("main").inner_text()

    # The versions page, as staff see it: every column in a 1280 px window.
    page.goto("/demos/cats-vs-dogs/versions/")
    table = page.locator(".table-scroll")
    scroll, client = table.evaluate("t => [t.scrollWidth, t.clientWidth]")
    assert scroll <= client, f"the versions table is {scroll} px wide in {client} px"
    assert page.locator("svg#figures-chart").is_visible()
    screenshot(page, "versions-staff")

    # Roll back.
    page.goto(f"/demos/cats-vs-dogs/versions/{number}/")
    page.get_by_label("Why roll back? (kept in the audit trail)").fill("browser test done")
    page.get_by_role("button", name="Roll back to v3").click()
    page.wait_for_url("**/versions/3/")
    assert page.get_by_text("Rolled back: v3 is served again.").is_visible()
    assert _served_line(page) == before
    page.goto("/demos/cats-vs-dogs/versions/")
    audit = page.locator("#audit").inner_text()
    assert f"v3 → v{number}" in audit and f"v{number} → v3" in audit


def test_the_public_versions_page_fits_a_desktop_window(browser_page, screenshot):
    page = browser_page("desktop")
    page.goto("/demos/cats-vs-dogs/versions/")
    table = page.locator(".table-scroll")
    scroll, client = table.evaluate("t => [t.scrollWidth, t.clientWidth]")
    assert scroll <= client, f"the versions table is {scroll} px wide in {client} px"
    assert page.locator("th", has_text="Status").count() == 0  # every listed version is ready
    screenshot(page, "versions-public")
