"""The admin. Writes go through the services (with their checks); a refusal
is shown as the admin's error message, in one place (``refusals_as_messages``)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from classifiers.gallery import services as gallery_services
from classifiers.inference.refusals import Refused
from classifiers.models import (
    Comparison,
    Demo,
    EvaluationSet,
    FaceEmbedding,
    Flag,
    ModelVersion,
    ModelVersionStatus,
    Person,
    PersonPhoto,
    Prediction,
    Promotion,
)
from classifiers.templatetags.figures import figure_for, figure_text
from classifiers.uploads import decode_photo, read_limited
from classifiers.versions.figures import figures_of


@contextmanager
def refusals_as_messages(model_admin: admin.ModelAdmin, request) -> Iterator[None]:
    """A service's refusal becomes an error message on the admin page."""
    try:
        yield
    except Refused as exc:
        model_admin.message_user(request, exc.message, messages.ERROR)


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ("number", "name", "status", "sha256", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Demo)
class DemoAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "kind", "promoted_version", "position")
    readonly_fields = ("promoted_version",)  # changed only by promote/rollback (audited)
    inlines = [ModelVersionInline]


VERSION_READ_ONLY_HELP = (
    "A version that a worker has validated (or is validating) is read-only: what "
    "it answers was checked as it is. A change is a new version: upload it on the "
    "demo's versions page, where it is validated before it can be promoted."
)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("demo", "number", "name", "status", "accuracy_shown", "created_at")
    list_filter = ("demo", "status")
    readonly_fields = (
        "sha256",
        "status",
        "status_reason",
        "figures",
        "metrics",
        "created_by",
        "created_at",
    )
    actions = ["promote"]

    @admin.display(description="accuracy")
    def accuracy_shown(self, version: ModelVersion) -> str:
        """'96.5% (95.0–97.6%, 800 photos)': a share with what it was counted on."""
        return figure_text(figure_for(version.metrics, "accuracy"))

    @admin.display(description="figures")
    def figures(self, version: ModelVersion) -> str:
        rows = [(f["label"], figure_text(f)) for f in figures_of(version.metrics)]
        if not rows:
            return "not measured"
        return format_html_join("", "<p>{}: {}</p>", rows)

    def has_add_permission(self, request) -> bool:
        # A row added here would skip the upload checks and never be validated.
        return False

    @staticmethod
    def _checked_as_it_is(obj) -> bool:
        return obj is not None and obj.status != ModelVersionStatus.UPLOADED

    def has_change_permission(self, request, obj=None) -> bool:
        # Labels, artifact, spec and calibration decide the served answers: a
        # validated version is shown with every field read-only (and a changed
        # form posted anyway is refused with 403).
        if self._checked_as_it_is(obj):
            return False
        return super().has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self._checked_as_it_is(obj):
            (name, options), *rest = fieldsets
            return [(name, {**options, "description": VERSION_READ_ONLY_HELP}), *rest]
        return fieldsets

    @admin.action(description="Promote the selected version (on its confirmation page)")
    def promote(self, request, queryset):
        """Promoting goes through the site's confirmation page (figures, sample
        sizes, disagreements with the served version), never straight from here."""
        versions = list(queryset.select_related("demo")[:2])
        if len(versions) != 1:
            self.message_user(
                request, "Promote one version at a time, on its confirmation page.", messages.ERROR
            )
            return None
        version = versions[0]
        return HttpResponseRedirect(
            reverse("classifiers:version-promote", args=[version.demo.slug, version.number])
        )


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    """The audit trail: written only by promote and rollback, append-only here.
    ``actor_name`` is who acted as written at the time, kept after the account is gone."""

    list_display = ("created_at", "demo", "action", "from_version", "to_version", "who", "reason")
    list_filter = ("demo", "action")

    @admin.display(description="who", ordering="actor_name")
    def who(self, promotion: Promotion) -> str:
        return promotion.actor_name or "set-up"

    def has_add_permission(self, request) -> bool:
        return False  # a hand-written row could name any actor

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # an audit trail is not edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("id", "demo", "owner", "status", "answer", "model_version", "created_at")
    list_filter = ("demo", "status", "model_version")
    search_fields = ("id", "owner__username", "image_sha256")
    readonly_fields = (
        "id",
        "owner",
        "visitor_id",
        "demo",
        "model_version",
        "image_sha256",
        "original_name",
        "status",
        "result",
        "error",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
    )
    # The photo itself is private to whoever uploaded it, staff included.
    exclude = ("image",)

    def has_add_permission(self, request) -> bool:
        return False


# The look-alike gallery. Photos are added through gallery.services so they
# get the upload checks and a worker computes their face embedding.


class PersonPhotoInlineForm(forms.ModelForm):
    class Meta:
        model = PersonPhoto
        fields = ("image", "source")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A stored photo's embeddings describe that very image: replace it by
            # removing it and adding another, never by editing it in place.
            self.fields["image"].disabled = True

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if upload and not self.instance.pk:
            data = read_limited(upload)
            try:
                decode_photo(data)
            except Refused as exc:
                raise forms.ValidationError(exc.message) from exc
            self.photo_bytes = data
        return upload


class PersonPhotoInline(admin.TabularInline):
    model = PersonPhoto
    form = PersonPhotoInlineForm
    fields = ("thumbnail", "image", "source", "face", "created_at")
    readonly_fields = ("thumbnail", "face", "created_at")
    extra = 1

    @admin.display(description="photo")
    def thumbnail(self, photo: PersonPhoto) -> str:
        if not photo.pk:
            return ""
        return format_html(
            '<img src="{}" alt="" style="height: 64px; width: auto">', photo.get_absolute_url()
        )

    @admin.display(description="face")
    def face(self, photo: PersonPhoto) -> str:
        if not photo.pk:
            return ""
        embeddings = list(photo.embeddings.all())
        if not embeddings:
            return "being embedded by a worker…"
        return "; ".join(
            f"v{e.model_version.number}: "
            + (
                "no face found: remove this photo"
                if not e.has_face
                else (f"{e.faces} faces, the largest used" if e.faces > 1 else "found")
            )
            for e in embeddings
        )


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "photo_count", "updated_at")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [PersonPhotoInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(photo_total=Count("photos"))

    @admin.display(description="photos", ordering="photo_total")
    def photo_count(self, person: Person) -> int:
        return person.photo_total

    def save_formset(self, request, form, formset, change):
        if formset.model is not PersonPhoto:
            return super().save_formset(request, form, formset, change)
        # commit=False only sorts the rows into new, changed and deleted (the
        # admin's history message reads those lists); the services do the writes.
        formset.save(commit=False)
        for photo in formset.deleted_objects:
            gallery_services.person_photo_delete(photo=photo)
        for photo, _ in formset.changed_objects:
            photo.save()  # only the source can change
        new = {id(photo) for photo in formset.new_objects}
        formset.new_objects = [
            gallery_services.person_photo_add(
                person=form.instance,
                data=inline_form.photo_bytes,
                source=inline_form.cleaned_data.get("source", ""),
            ).photo
            for inline_form in formset.forms
            if id(inline_form.instance) in new
        ]

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Embeddings go with their photos: read-only on their own, not undeletable.
        perms_needed.discard(FaceEmbedding._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj: Person) -> None:
        gallery_services.person_delete(person=obj)

    def delete_queryset(self, request, queryset) -> None:
        for person in queryset:
            gallery_services.person_delete(person=person)


@admin.register(FaceEmbedding)
class FaceEmbeddingAdmin(admin.ModelAdmin):
    """Computed by workers: shown, never edited."""

    list_display = ("photo", "person", "model_version", "faces", "has_face", "created_at")
    list_filter = ("model_version",)
    search_fields = ("photo__person__name",)
    list_select_related = ("photo__person", "model_version")

    @admin.display(description="person", ordering="photo__person__name")
    def person(self, embedding: FaceEmbedding) -> str:
        return embedding.photo.person.name

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services (with their checks) and workers: listed, never edited here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EvaluationSet)
class EvaluationSetAdmin(ReadOnlyAdmin):
    """Uploaded on the demo's evaluation-sets page, where the zip is checked."""

    list_display = ("name", "demo", "photo_count", "label_counts", "uploaded_by", "created_at")
    list_filter = ("demo",)
    list_select_related = ("demo", "uploaded_by")
    search_fields = ("name", "sha256")


@admin.register(Comparison)
class ComparisonAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "demo",
        "candidate",
        "baseline",
        "status",
        "compared",
        "disagreement_count",
        "requested_by",
        "page",
    )
    list_filter = ("status", "candidate__demo")
    list_select_related = ("candidate__demo", "baseline", "requested_by")
    exclude = ("rows",)  # shown on the comparison page, with the photos

    @admin.display(description="demo", ordering="candidate__demo__slug")
    def demo(self, comparison: Comparison) -> str:
        return comparison.candidate.demo.title

    @admin.display(description="")
    def page(self, comparison: Comparison) -> str:
        url = reverse(
            "classifiers:comparison", args=[comparison.candidate.demo.slug, comparison.pk]
        )
        return format_html('<a href="{}">answers and photos</a>', url)

    @admin.display(description="uploads compared")
    def compared(self, comparison: Comparison) -> int:
        return len(comparison.rows)

    @admin.display(description="disagreements")
    def disagreement_count(self, comparison: Comparison) -> int:
        return len(comparison.disagreements)


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    """Flags are resolved on the staff review page, where the photo is copied
    into the evaluation set with its checks."""

    list_display = ("created_at", "demo", "answer", "label", "status", "via_share", "review")
    list_filter = ("status", "demo", "via_share")
    list_select_related = ("demo",)
    search_fields = ("label", "answer", "comment")
    exclude = ("client_key",)  # who flagged, as a keyed hash: of no use to read

    @admin.display(description="")
    def review(self, flag: Flag) -> str:
        url = reverse("classifiers:staff-flags", args=[flag.demo.slug])
        return format_html('<a href="{}">Review</a>', url)
