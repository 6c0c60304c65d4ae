from django.apps import AppConfig


class ClassifiersConfig(AppConfig):
    name = "classifiers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from classifiers import signals  # noqa: F401  (connects the login receiver)
