"""The site's stylesheet: rules a page relies on and colours people can read."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

CSS = (REPO / "static" / "css" / "site.css").read_text()


def _palette(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", block))


def _root_blocks() -> tuple[dict[str, str], dict[str, str]]:
    light = _palette(CSS[: CSS.index("@media (prefers-color-scheme: dark)")])
    dark_start = CSS.index("@media (prefers-color-scheme: dark)")
    dark = _palette(CSS[dark_start : CSS.index("}\n", CSS.index(":root", dark_start))])
    return light, dark


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_helper_agrees_with_wcag():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#2f6fec", "#f7f8fa") == pytest.approx(4.29, abs=0.01)  # the old accent


def test_the_hidden_attribute_wins_over_any_display_rule():
    """The empty Permalink card: `.live { display: flex }` beat `hidden`."""
    assert re.search(r"\[hidden\]\s*\{\s*display:\s*none\s*!important;?\s*\}", CSS)


def test_dark_mode_follows_the_system_setting():
    light, dark = _root_blocks()
    assert "color-scheme: light dark" in CSS
    assert set(light) == set(dark)  # every colour has its dark twin
    assert _luminance(dark["bg"]) < 0.05 < _luminance(light["bg"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("text", ["ink", "muted", "accent", "danger"])
def test_text_colours_pass_aa_on_page_and_card(scheme, text):
    palette = dict(zip(("light", "dark"), _root_blocks(), strict=True))[scheme]
    for background in ("bg", "card"):
        ratio = contrast(palette[text], palette[background])
        assert ratio >= 4.5, f"{scheme} --{text} on --{background}: {ratio:.2f}:1"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_button_text_passes_aa_on_the_accent_and_danger(scheme):
    palette = dict(zip(("light", "dark"), _root_blocks(), strict=True))[scheme]
    assert contrast(palette["on-accent"], palette["accent"]) >= 4.5
    assert contrast(palette["on-accent"], palette["danger"]) >= 4.5


def test_the_heatmap_checkbox_shows_its_keyboard_focus_on_its_label():
    assert ".hm-toggle:focus-visible ~ .result .hm-label" in CSS


def test_code_samples_scroll_inside_their_own_box():
    assert re.search(r"pre \{[^}]*overflow-x:\s*auto", CSS)
