"""The demo kinds, registered in one place.

Each kind is one class with every kind-specific hook (artifact suffix, spec
check, validation, answers, result template). They are named by dotted path
and imported on first use, so registering a kind imports nothing heavy, and
no module registers itself by being imported. Adding a kind: write its
module (a ``Pipeline`` subclass), add a line here, add its result template.
"""

from __future__ import annotations

import importlib
from functools import cache

from classifiers.inference.pipelines import Pipeline

KINDS = {
    "imagenet-subset": "classifiers.inference.imagenet.ImagenetSubsetPipeline",
    "face-lookalike": "classifiers.inference.faces.FaceLookalikePipeline",
}


@cache
def pipeline_class(kind: str) -> type[Pipeline]:
    try:
        dotted = KINDS[kind]
    except KeyError:
        raise LookupError(f"no demo kind {kind!r}; known: {', '.join(KINDS)}") from None
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def kind_choices() -> list[tuple[str, str]]:
    """For the Demo.kind field (a callable, so a new kind needs no migration)."""
    return [(kind, pipeline_class(kind).title) for kind in KINDS]


def gallery_kinds() -> list[str]:
    """The kinds whose answers come from a gallery of enrolled people."""
    return [kind for kind in KINDS if pipeline_class(kind).uses_gallery]
