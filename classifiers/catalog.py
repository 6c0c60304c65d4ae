"""The demos this site ships, and the model versions built for them at set-up.

``setup_demos`` writes these into the database (idempotently); after that the
database is the source of truth and admins add versions through the site.
Each version's measured figures live in ``classifiers/specs/<slug>-v<N>.json``,
written by the scripts under ``bench/``.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECS_DIR = Path(__file__).parent / "specs"
IMAGENET_LABELS = Path(__file__).parent / "inference" / "imagenet_classes.json"

# ImageNet-1k index ranges (inclusive). Domestic cats are 281-285. Dogs are
# the 118 breeds 151-268 plus dingo, dhole and African hunting dog (273-275),
# which ImageNet files under wild canids but Stanford Dogs (and so Kaggle's
# dog-breed set) counts as breeds: without them those dogs were "not a dog".
DOG_CLASSES = [(151, 268), (273, 275)]
CAT_CLASSES = [(281, 285)]
DOG_CLASS_COUNT = sum(hi - lo + 1 for lo, hi in DOG_CLASSES)  # 121

# ImageNet's names are WordNet's first lemma; a few read oddly to dog people.
BREED_DISPLAY_NAMES = {
    "basset": "basset hound",
    "Boston bull": "Boston terrier",
    "Blenheim spaniel": "Cavalier King Charles spaniel",
    "Brabancon griffon": "Brabançon griffon",
    "Pembroke": "Pembroke Welsh corgi",
    "Cardigan": "Cardigan Welsh corgi",
    "malinois": "Belgian Malinois",
    "kuvasz": "Kuvasz",
    "Leonberg": "Leonberger",
    "Eskimo dog": "Eskimo dog (husky)",
    "dingo": "dingo (wild dog)",
    "dhole": "dhole (wild dog)",
    "African hunting dog": "African wild dog",
}

DEMOS = [
    {
        "slug": "cats-vs-dogs",
        "title": "Cats vs dogs",
        "summary": "Is it a cat or a dog? An ImageNet network read through its cat and dog "
        "classes.",
        "description": (
            "An EfficientNet-Lite network trained on ImageNet-1k. The probability of "
            "“cat” is the sum over its five domestic-cat classes, that of “dog” the sum "
            f"over its {DOG_CLASS_COUNT} dog classes (118 breeds, plus dingo, dhole and "
            "African wild dog, which the Stanford Dogs breeds include). It answers only "
            "when their sum is high enough, and decides cat or dog with a correction "
            "for ImageNet's habit of under-calling cats; both were tuned on hundreds "
            "of labelled photos. The dog-breeds demo decides what is a dog the same way."
        ),
        "kind": "imagenet-subset",
        "position": 1,
        "config": {
            "groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES},
            "reject_reason": "Neither a cat nor a dog.",
        },
        "examples": [
            {"image": "classifiers/examples/cat.jpg", "caption": "Cat"},
            {"image": "classifiers/examples/golden-retriever.jpg", "caption": "Golden retriever"},
            {"image": "classifiers/examples/fox-squirrel.jpg", "caption": "Fox squirrel"},
        ],
        "versions": [f"cats-vs-dogs-v{n}.json" for n in (1, 2, 3, 4, 5, 6)],
    },
    {
        "slug": "dog-breeds",
        "title": "Dog breeds",
        "summary": f"Which of {DOG_CLASS_COUNT} breeds is this dog? And an honest “not a dog” "
        "when it is not one.",
        "description": (
            f"The same ImageNet network ranked within its {DOG_CLASS_COUNT} dog classes "
            "(118 breeds, plus dingo, dhole and African wild dog, which the Stanford Dogs "
            "breeds include). It names a breed only when the cats-vs-dogs demo would say "
            "“dog” for the same photo."
        ),
        "kind": "imagenet-subset",
        "position": 2,
        "config": {
            # Both groups, so the cat-or-dog rule is the one cats-vs-dogs applies.
            "groups": {"cat": CAT_CLASSES, "dog": DOG_CLASSES},
            "rank_within": "dog",
            "top_k": 3,
            "reject_reason": "This is not a dog.",
            "reject_reasons": {"cat": "This is a cat, not a dog."},
            "display_names": BREED_DISPLAY_NAMES,
        },
        "examples": [
            {"image": "classifiers/examples/dalmatian.jpg", "caption": "Dalmatian"},
            {"image": "classifiers/examples/golden-retriever.jpg", "caption": "Golden retriever"},
        ],
        "versions": [f"dog-breeds-v{n}.json" for n in (1, 2, 3, 4, 5, 6)],
    },
    {
        "slug": "celebrity-lookalike",
        "title": "Celebrity look-alike",
        "summary": "Which of about 4,000 public figures do you look like? And is it them?",
        "description": (
            "Finds the largest face with dlib's HOG detector, aligns it on five landmarks, "
            "embeds it with dlib's face ResNet and compares it with about 4,000 public "
            "figures. The chance shown is that the face is that very person, given how many "
            "people the gallery holds (fitted on LFW's training pairs and on people left out "
            "of the gallery): it says “This is X” at one half or more, otherwise “You look "
            "most like X”. Gallery: Labeled Faces in the Wild (University of Massachusetts "
            "Amherst; Huang et al. 2007), news photos from 2002-2004."
        ),
        "kind": "face-lookalike",
        "position": 3,
        "config": {},
        "examples": [
            {"image": "classifiers/examples/obama-and-biden.jpg", "caption": "Two people"},
            {"image": "classifiers/examples/kit-harington.jpg", "caption": "Not in the gallery"},
            {"image": "classifiers/examples/fox-squirrel.jpg", "caption": "No face"},
        ],
        "versions": ["celebrity-lookalike-v1.json"],
    },
]


def version_spec(filename: str) -> dict:
    return json.loads((SPECS_DIR / filename).read_text())


def imagenet_labels() -> list[str]:
    return json.loads(IMAGENET_LABELS.read_text())
