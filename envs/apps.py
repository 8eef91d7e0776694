from django.apps import AppConfig


class EnvsConfig(AppConfig):
    default = True  # this module has two configs; the server's is this one
    default_auto_field = "django.db.models.BigAutoField"
    name = "envs"
    verbose_name = "Environments"

    def ready(self):
        # ALE/... and MiniGrid-... ids exist only once their packages registered them.
        from .registry import register_namespaces

        register_namespaces()


class EpisodeWriterConfig(EnvsConfig):
    """The app in the episode writer process (gymapi/settings_writer.py), which writes
    rows and runs no environment: Gymnasium's namespaces are not loaded there."""

    default = False

    def ready(self):
        pass
