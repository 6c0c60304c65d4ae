"""Answered predictions without running a model: claimed and finished as a
worker would, with the outcome a test needs."""

from __future__ import annotations

import html as html_module
import re
from html.parser import HTMLParser

from classifiers.models import Prediction
from classifiers.predictions import services as prediction_services
from classifiers.predictions import worker as prediction_worker
from tests.conftest import jpeg_bytes

DOG = {
    "status": "done",
    "label": "dog",
    "score": 0.96,
    "top": [{"label": "dog", "score": 0.96}, {"label": "cat", "score": 0.04}],
}
NEITHER = {
    "status": "rejected",
    "label": None,
    "score": None,
    "top": [{"label": "cat", "score": 0.05}, {"label": "dog", "score": 0.07}],
    "reason": "Neither a cat nor a dog.",
}


def answered(
    demo,
    *,
    owner=None,
    visitor_id: str = "",
    outcome: dict | None = None,
    filename: str = "rex-at-alices-house.jpg",
    data: bytes | None = None,
) -> Prediction:
    prediction = prediction_services.prediction_create(
        demo=demo,
        data=jpeg_bytes() if data is None else data,
        filename=filename,
        owner=owner,
        visitor_id=visitor_id,
    )
    assert prediction_worker.prediction_claim(prediction_id=prediction.id)
    prediction.refresh_from_db()
    prediction_worker.prediction_finish(prediction=prediction, outcome=outcome or DOG)
    prediction.refresh_from_db()
    return prediction


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "meta":
            attrs = dict(attrs)
            key = attrs.get("property") or attrs.get("name")
            if key:
                self.found[key] = attrs.get("content", "")


def meta_tags(html: str) -> dict[str, str]:
    """``<meta property|name=... content=...>`` of a page, by property or name."""
    parser = _Meta()
    parser.feed(html)
    return parser.found


def text_of(html: str) -> str:
    """The page's words, tags removed, whitespace folded (for what a reader sees)."""
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", html)).split())
