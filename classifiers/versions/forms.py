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


class ModelVersionUploadForm(forms.Form):
    artifact = forms.FileField(
        help_text="A .keras file (the look-alike demo: a dlib .dat network)."
    )
    labels = forms.FileField(
        required=False,
        help_text="A JSON list, one label per output. Leave empty to reuse the served version's.",
    )
    input_spec = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60, "spellcheck": "false"}),
        help_text='JSON: "size" 32-1024; "preprocessing" lite ((x-127)/128), tf (x/127.5-1), '
        'torch (ImageNet mean/std) or raw (0-255); "crop" 0.5-1.0 or "none"; '
        '"resample" bicubic or bilinear.',
    )
    name = forms.CharField(max_length=120, required=False, help_text="e.g. EfficientNet-Lite2")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=False)

    def __init__(self, *args, default_labels: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.default_labels = default_labels or []

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

    def clean_input_spec(self) -> dict:
        try:
            spec = json.loads(self.cleaned_data["input_spec"])
        except ValueError as exc:
            raise forms.ValidationError(f"The input spec is not valid JSON ({exc}).") from exc
        if not isinstance(spec, dict):
            raise forms.ValidationError("The input spec must be a JSON object.")
        return spec


class ReasonForm(forms.Form):
    """Why a promotion, rollback or comparison is asked for: kept in the audit trail."""

    why = forms.CharField(
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 50, "placeholder": "Why?"}),
        error_messages={"required": "Say why: it is kept in the audit trail."},
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
