"""Forms of flags: the visitor's ("it should be...") and the staff's
("add it as..."). They parse; the services decide what is acceptable."""

from __future__ import annotations

from django import forms

from classifiers.feedback.services import COMMENT_MAX, LABEL_MAX


def _label_field(choices: list[tuple[str, str]], *, label: str) -> forms.Field:
    """A list where the demo has fixed answers, else a line of text."""
    if choices:
        return forms.ChoiceField(
            label=label,
            choices=[("", "Choose…"), *choices],
            error_messages={
                "required": "Say what it should be.",
                "invalid_choice": "Choose one of the answers listed.",
            },
        )
    return forms.CharField(
        label=label,
        max_length=LABEL_MAX,
        error_messages={"required": "Say what it should be."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class FlagForm(forms.Form):
    label = forms.CharField()  # replaced per demo in __init__
    comment = forms.CharField(
        label="Comment (optional)",
        required=False,
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
    )

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"] = _label_field(choices, label="It should be")


class FlagResolveForm(forms.Form):
    """Staff: the label the photo goes into the evaluation set with."""

    label = forms.CharField()

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"] = _label_field(choices, label="Label")
