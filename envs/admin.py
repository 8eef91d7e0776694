"""The operations console: every instance, live and historical, and its episodes. Read-only."""

from django.contrib import admin
from django.db.models import Count, Sum

from .models import EnvInstance, Episode


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
        "id", "env_id", "num_envs", "status", "render_mode", "created_at", "closed_at", "episode_count", "step_count"
    )
    list_filter = ("status", "env_id", "render_mode", ("num_envs", admin.EmptyFieldListFilter))
    search_fields = ("id", "env_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id", "env_id", "num_envs", "render_mode", "kwargs", "seed", "max_episode_steps", "status", "created_at", "closed_at"
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
