from django import forms


class UploadForm(forms.Form):
    """Either a photo or the index of one of the demo's examples."""

    image = forms.FileField(required=False)
    example = forms.IntegerField(required=False, min_value=0)

    def clean(self):
        data = super().clean()
        if not data.get("image") and data.get("example") is None:
            raise forms.ValidationError("Choose a photo to upload, or click an example.")
        return data


class DeleteForm(forms.Form):
    """The confirmation of a delete: how many predictions the person was shown."""

    count = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class ShareForm(forms.Form):
    """Share an answer: with the photo (and heatmap), or the answer alone."""

    show_photo = forms.BooleanField(required=False)
