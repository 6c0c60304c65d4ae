from django.contrib import admin, messages

from classifiers import services
from classifiers.models import Demo, ModelVersion, Prediction, Promotion


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


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("demo", "number", "name", "status", "accuracy", "created_at")
    list_filter = ("demo", "status")
    readonly_fields = ("sha256", "status", "status_reason", "metrics", "created_by", "created_at")
    actions = ["promote"]

    @admin.action(description="Promote the selected version (one per demo)")
    def promote(self, request, queryset):
        for version in queryset:
            try:
                services.model_version_promote(
                    version=version, actor=request.user, reason="promoted in the admin"
                )
            except ValueError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{version} is now served.", messages.SUCCESS)


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "demo", "action", "from_version", "to_version", "actor", "reason")
    list_filter = ("demo", "action")

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
