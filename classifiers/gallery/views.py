"""The look-alike gallery's public photos."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from classifiers.inference.faces import face_crop_jpeg
from classifiers.models import PersonPhoto


@require_GET
def gallery_photo(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """A look-alike gallery photo. These are published photos of public figures
    (unlike uploads), shown next to the answer, so anyone may see them."""
    photo = get_object_or_404(PersonPhoto, pk=pk)
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError as exc:
        raise Http404("image not found") from exc
    if request.GET.get("crop") == "face":
        # The thumbnail next to an answer: the face, not the whole portrait.
        box = (
            photo.embeddings.filter(bbox__isnull=False)
            .order_by("-id")
            .values_list("bbox", flat=True)
            .first()
        )
        with handle:
            response = HttpResponse(face_crop_jpeg(handle, box), content_type="image/jpeg")
    else:
        response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response
