"""Forms of the staff pages for model versions, comparisons and evaluation sets.

They only parse what was posted; the services decide what is acceptable.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings

from classifiers.inference.refusals import Refused
from classifiers.versions.services import labels_from_json

LABELS_MAX_BYTES = 2 * 1024 * 1024


PREPROCESSING_CHOICES = [
    ("", "— choose —"),
    ("lite", "lite: (x − 127) / 128 (EfficientNet-Lite)"),
    ("tf", "tf: x / 127.5 − 1 (MobileNet, Inception)"),
    ("torch", "torch: ImageNet mean and standard deviation (PyTorch-trained networks)"),
    ("raw", "raw: pixels 0–255 as they are (the network normalises inside)"),
]


class ModelVersionUploadForm(forms.Form):
    """The file, its labels, and what the file cannot tell about the photos
    it was trained on. The input size is read from the model by the worker
    that validates it; nothing is copied from the served version, whose
    network may take other photos."""

    artifact = forms.FileField(
        label="Model file", help_text="A .keras file (the look-alike demo: a dlib .dat network)."
    )
    name = forms.CharField(max_length=120, required=False, help_text="e.g. EfficientNet-Lite2")
    labels = forms.FileField(
        required=False,
        help_text="A JSON list, one label per output. Leave empty to reuse the served version's.",
    )
    # spec_form "image": what the model file does not say.
    preprocessing = forms.ChoiceField(
        choices=PREPROCESSING_CHOICES,
        label="Pixel scaling the network was trained with",
        error_messages={
            "required": "Say how the network expects its pixels: the model file does not tell."
        },
    )
    crop = forms.CharField(
        max_length=10,
        label="Centre crop",
        widget=forms.TextInput(attrs={"size": 10, "placeholder": "e.g. 0.875"}),
        help_text="The share of the photo's short side the network saw in training: 0.875 is "
        "the usual ImageNet evaluation crop, 1.0 the whole short side; “none” squashes the "
        "whole photo to a square.",
        error_messages={
            "required": "Say how the photos were cropped in training: the model file does "
            "not tell (0.875 is the usual ImageNet crop)."
        },
    )
    resample = forms.ChoiceField(
        choices=[("bicubic", "bicubic"), ("bilinear", "bilinear")],
        initial="bicubic",
        label="Resizing",
    )
    tta = forms.ChoiceField(
        choices=[
            ("none", "none: one view of each photo"),
            ("flip", "flip: the photo and its mirror image, averaged (twice the work)"),
        ],
        initial="none",
        label="Test-time views",
    )
    size = forms.IntegerField(
        required=False,
        min_value=32,
        max_value=1024,
        label="Input size (pixels)",
        help_text="Leave empty: it is read from the model's input shape. Give it only for a "
        "network that takes photos of any size.",
    )
    # spec_form "json": fitted numbers written out.
    input_spec = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60, "spellcheck": "false"}),
        help_text='JSON: the network\'s fitted "score" ("c0", "s") and "likeness" ("near", '
        '"far") distances, as bench/faces_accuracy.py writes them for a network.',
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)

    IMAGE_FIELDS = ("preprocessing", "crop", "resample", "tta", "size")

    def __init__(
        self,
        *args,
        spec_form: str = "image",
        default_labels: list[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.spec_form = spec_form
        self.default_labels = default_labels or []
        dropped = ("input_spec",) if spec_form == "image" else self.IMAGE_FIELDS
        for name in dropped:
            del self.fields[name]

    def clean_labels(self) -> list[str]:
        upload = self.cleaned_data.get("labels")
        if not upload:
            if not self.default_labels:
                raise forms.ValidationError("Upload the labels: this demo serves no version yet.")
            return self.default_labels
        data = upload.read(LABELS_MAX_BYTES + 1)
        if len(data) > LABELS_MAX_BYTES:
            raise forms.ValidationError("The labels file is larger than 2 MB.")
        try:
            return labels_from_json(data)
        except Refused as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_crop(self) -> float | str:
        text = self.cleaned_data["crop"].strip().lower()
        if text == "none":
            return "none"
        try:
            crop = float(text.replace(",", "."))
        except ValueError:
            crop = None
        if crop is None or not 0.5 <= crop <= 1.0:
            raise forms.ValidationError("The crop is a number from 0.5 to 1.0, or “none”.")
        return crop

    def clean_input_spec(self) -> dict:
        try:
            spec = json.loads(self.cleaned_data["input_spec"])
        except ValueError as exc:
            raise forms.ValidationError(f"The input spec is not valid JSON ({exc}).") from exc
        if not isinstance(spec, dict):
            raise forms.ValidationError("The input spec must be a JSON object.")
        return spec

    def clean(self) -> dict:
        data = super().clean()
        if self.spec_form != "image":
            data["spec"] = data.get("input_spec")
        elif all(name in data for name in ("preprocessing", "crop", "resample", "tta")):
            spec = {
                "preprocessing": data["preprocessing"],
                "crop": data["crop"],
                "resample": data["resample"],
                "tta": data["tta"],
            }
            if data.get("size") is not None:
                spec["size"] = data["size"]
            data["spec"] = spec
        return data


class ReasonForm(forms.Form):
    """Why a promotion, rollback or comparison is asked for: kept in the audit trail."""

    why = forms.CharField(
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 50, "placeholder": "Why?"}),
        error_messages={"required": "Say why: it is kept in the audit trail."},
    )


class PromoteForm(ReasonForm):
    """Posted from the promotion's confirmation page (``confirmed``); with a
    strong warning on that page, ``accept_risks`` must be ticked too."""

    confirmed = forms.CharField(widget=forms.HiddenInput, required=False, initial="yes")
    accept_risks = forms.BooleanField(
        required=False, label="Serve it anyway: I have read the warnings above."
    )


class CompareForm(forms.Form):
    sample_size = forms.IntegerField(min_value=1, max_value=500, initial=50, required=False)


class EvaluationSetForm(forms.Form):
    archive = forms.FileField(help_text="A zip with one folder per answer: cat/…, dog/…, neither/…")
    name = forms.CharField(max_length=120, required=False)

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        # The same cap as model files: the request-body limit of this page
        # (portfolio/middleware.py) refuses anything larger before it is read.
        limit = settings.MODEL_UPLOAD_MAX_BYTES
        if archive.size > limit:
            raise forms.ValidationError(f"The zip is larger than {limit // (1024 * 1024)} MB.")
        return archive
