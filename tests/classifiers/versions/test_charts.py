"""The versions' SVG charts, drawn on the server (no database needed)."""

import xml.etree.ElementTree as ET
from types import SimpleNamespace

from classifiers.versions import charts

SVG = "{http://www.w3.org/2000/svg}"

RELIABILITY = {
    "bins": [
        {"low": 0.5, "high": 0.6, "n": 12, "right": 7, "confidence": 0.55},
        {"low": 0.8, "high": 0.9, "n": 40, "right": 33, "confidence": 0.86},
        {"low": 0.9, "high": 1.0, "n": 250, "right": 241, "confidence": 0.962},
    ],
    "n": 302,
    "bins_of": 10,
    "measured_on": "the other half of evaluation set “pets”",
}


def _parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed, or this raises
    assert root.tag == f"{SVG}svg"
    return root


def _version(number, name, value=None, *, n=800, k=None, pk=None, **extra):
    figures = []
    if value is not None:
        figures.append(
            {
                "key": "accuracy",
                "label": "Right answer",
                "value": value,
                "k": k if k is not None else round(value * n),
                "n": n,
                "unit": "photos",
                "format": "percent",
                "interval": True,
                "measured_on": "800 photos",
            }
        )
    metrics = {"figures": figures, **extra} if figures else extra
    return SimpleNamespace(number=number, name=name, metrics=metrics, pk=pk or number)


# -- the reliability diagram -----------------------------------------------------------


def test_it_draws_a_bar_and_its_count_per_band_and_the_diagonal():
    root = _parsed(charts.reliability_diagram(RELIABILITY, chart_id="rel-v7"))

    bars = root.findall(f"{SVG}rect[@class='chart-bar']")
    assert len(bars) == 3
    counts = [t.text for t in root.findall(f"{SVG}text[@class='chart-count']")]
    assert counts == ["12", "40", "250"]
    assert root.find(f"{SVG}line[@class='chart-diagonal']") is not None
    # taller bar, more often right: 241/250 is higher than 7/12
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[2] > heights[1] > heights[0]
    assert bars[2].find(f"{SVG}title").text == (
        "Confidence 90%–100%: 241 of 250 right (96%), mean confidence 96%."
    )


def test_it_says_in_words_what_it_draws():
    root = _parsed(charts.reliability_diagram(RELIABILITY, chart_id="rel-v7", title="v7 · Lite0"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "rel-v7-title rel-v7-desc"
    assert root.find(f"{SVG}title").get("id") == "rel-v7-title"
    assert root.find(f"{SVG}title").text == "v7 · Lite0"
    desc = root.find(f"{SVG}desc").text
    assert desc.startswith("Confidence shown against how often the answer was right, 302 answers")
    assert "measured on the other half of evaluation set “pets”" in desc
    assert "Confidence 50%–60%: 7 of 12 right (58%), mean confidence 55%." in desc


def test_an_unmeasured_version_gets_an_empty_diagram_that_says_so():
    for reliability in (None, {}, {"bins": []}):
        root = _parsed(charts.reliability_diagram(reliability, chart_id="rel-v1"))
        assert root.findall(f"{SVG}rect[@class='chart-bar']") == []
        assert root.find(f"{SVG}text[@class='chart-empty']").text == (
            "Not measured on labelled photos"
        )
        assert "No reliability diagram" in root.find(f"{SVG}desc").text


def test_the_diagram_escapes_what_it_is_given():
    svg = charts.reliability_diagram(
        {**RELIABILITY, "measured_on": "<script>alert(1)</script>"},
        chart_id='x" onload="alert(1)',
        title="<b>v7</b> & co",
    )
    assert "<script>" not in svg
    assert 'onload="' not in svg
    root = _parsed(svg)
    assert root.find(f"{SVG}title").text == "<b>v7</b> & co"  # as text, not markup
    assert "<script>alert(1)</script>" in root.find(f"{SVG}desc").text


# -- the versions side by side ---------------------------------------------------------


def test_it_draws_each_versions_figure_with_its_interval_and_sample_size():
    versions = [
        _version(1, "EfficientNet-Lite0", 0.965),
        _version(3, "EfficientNet-Lite2", 0.97, pk=30),
        _version(2, "EfficientNet-Lite1", 0.936),
    ]
    root = _parsed(charts.figures_chart(versions, chart_id="figs", served_id=30))

    rows = root.findall(f"{SVG}g")
    assert [r.find(f"{SVG}text").text for r in rows] == [
        "v1 · EfficientNet-Lite0",
        "v2 · EfficientNet-Lite1",
        "v3 · EfficientNet-Lite2",
    ]  # oldest first
    assert rows[2].get("class") == "chart-row served"
    assert len(root.findall(f".//{SVG}circle[@class='chart-point']")) == 3
    assert len(root.findall(f".//{SVG}line[@class='chart-whisker']")) == 9  # a bar, two caps
    notes = [r.findall(f"{SVG}text")[-1].text for r in rows]
    assert notes == ["96.5% (n=800)", "93.6% (n=800)", "97.0% (n=800)"]
    assert root.find(f"{SVG}title").text == "Right answer, per version, with 95% intervals"
    desc = root.find(f"{SVG}desc").text
    assert "v3 EfficientNet-Lite2 (served): 97.0%, 95% interval 95.6% to 98.0%, on 800 photos." in (
        desc
    )


def test_a_figure_on_few_photos_is_hollow_marked_and_does_not_squeeze_the_axis():
    versions = [_version(1, "Lite0", 0.965), _version(7, "Tiny test", 0.6, n=5, k=3)]
    root = _parsed(charts.figures_chart(versions, chart_id="figs"))

    ticks = [t.text for t in root.findall(f"{SVG}text[@class='chart-tick']")]
    assert ticks[0] == "90%"  # the axis follows the trusted figures
    assert root.find(f".//{SVG}path[@class='chart-offscale']").get("fill") == "none"
    rows = root.findall(f"{SVG}g")
    assert rows[1].findall(f"{SVG}text")[-1].text == "60.0% (n=5, too few)"
    assert "v7 Tiny test: 60.0%, 95% interval 23.1% to 88.2%, on 5 photos, too few to trust." in (
        root.find(f"{SVG}desc").text
    )


def test_versions_without_the_figure_are_left_out_and_none_gives_an_empty_chart():
    versions = [_version(1, "Lite0", 0.965), _version(2, "Timed only", latency_p50_ms=20.0)]
    root = _parsed(charts.figures_chart(versions, chart_id="figs"))
    assert len(root.findall(f"{SVG}g")) == 1

    root = _parsed(charts.figures_chart([_version(2, "Timed only")], chart_id="figs"))
    assert root.findall(f"{SVG}g") == []
    assert root.find(f"{SVG}text[@class='chart-empty']").text == (
        "No version has been measured on labelled photos yet."
    )


def test_the_figures_chart_escapes_version_names():
    svg = charts.figures_chart(
        [_version(7, '<img src=x onerror="alert(1)">', 0.9)], chart_id="figs"
    )
    assert "<img" not in svg
    root = _parsed(svg)
    assert root.find(f"{SVG}g/{SVG}text").text.startswith("v7 · <img src=x")


def test_a_kind_without_accuracy_charts_its_first_share():
    faces = SimpleNamespace(
        number=1,
        name="dlib ResNet",
        pk=1,
        metrics={
            "figures": [
                {"key": "latency_p50_ms", "label": "Time", "value": 80, "n": 10, "format": "ms"},
                {
                    "key": "identified",
                    "label": "Right person named",
                    "value": 0.95,
                    "k": 950,
                    "n": 1000,
                    "interval": True,
                },
            ]
        },
    )
    root = _parsed(charts.figures_chart([faces], chart_id="figs"))
    assert root.find(f"{SVG}title").text == "Right person named, per version, with 95% intervals"
