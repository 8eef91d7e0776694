"""The operations console: every instance, live and historical, and its episodes (read-only),
and the API keys (created and revoked here). Staff see every key's instances."""

from django.contrib import admin, messages
from django.db.models import Count, Q, Sum

from . import access
from .models import ApiKey, EnvInstance, Episode, InstanceStatus


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EpisodeInline(ReadOnlyMixin, admin.TabularInline):
    model = Episode
    fields = ("sub_env", "number", "seed", "started_at", "ended_at", "duration", "steps", "total_reward", "outcome")
    readonly_fields = fields
    extra = 0
    show_change_link = False


@admin.register(EnvInstance)
class EnvInstanceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "id", "env_id", "num_envs", "status", "owner", "render_mode", "created_at", "closed_at", "episode_count",
        "step_count",
    )
    list_filter = ("status", "env_id", "render_mode", ("num_envs", admin.EmptyFieldListFilter), "owner")
    list_select_related = ("owner",)
    search_fields = ("id", "env_id", "owner__name")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id", "env_id", "num_envs", "render_mode", "kwargs", "seed", "max_episode_steps", "status", "status_reason",
        "owner", "created_at", "closed_at", "process",
    )
    inlines = [EpisodeInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_episodes=Count("episodes"), _steps=Sum("episodes__steps"))

    @admin.display(description="episodes", ordering="_episodes")
    def episode_count(self, obj):
        return obj._episodes

    @admin.display(description="steps", ordering="_steps")
    def step_count(self, obj):
        return obj._steps or 0


@admin.register(Episode)
class EpisodeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("instance", "sub_env", "number", "steps", "total_reward", "outcome", "started_at", "duration")
    list_filter = ("terminated", "truncated", "instance__env_id")
    search_fields = ("instance__id", "instance__env_id")
    list_select_related = ("instance",)
    readonly_fields = (
        "instance", "sub_env", "number", "seed", "started_at", "ended_at", "steps", "total_reward", "terminated", "truncated"
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are added here (the key is shown once, on the page the add leads to) and
    revoked with the "revoke" action; never changed or deleted, so instances keep their owner."""

    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at", "active_instances")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name",)
        return ("name", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _active=Count("instances", filter=Q(instances__status=InstanceStatus.ACTIVE))
        )

    @admin.display(description="active instances", ordering="_active")
    def active_instances(self, obj):
        return obj._active

    def save_model(self, request, obj, form, change):
        if change:
            return
        key = obj.set_new_key()
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            f"The key of {obj.name}: {key} (copy it now: it is not stored and will not be shown again).",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys (their clients get 401 from then on)")
    def revoke(self, request, queryset):
        revoked = sum(access.key_revoke(api_key) for api_key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
