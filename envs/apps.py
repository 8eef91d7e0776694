from django.apps import AppConfig


class EnvsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "envs"
    verbose_name = "Environments"

    def ready(self):
        # ALE/... and MiniGrid-... ids exist only once their packages registered them.
        from .registry import register_namespaces

        register_namespaces()
