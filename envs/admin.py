"""The operations console: every instance, live and historical, and its episodes (read-only),
and the API keys (created and revoked here). Staff see every key's instances.

An instance's page charts its episodes and shows the last few (the full list is the
episode list, filtered by instance); each environment id has a page of its own charting
every instance's episodes over time. The charts are the monitor's (monitor/static/).
"""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q, Sum
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import access
from .actions import ActionsError, actions_json
from .filters import OUTCOMES, EpisodeFilter
from .models import ApiKey, EnvInstance, Episode, InstanceStatus
from .selectors import episode_row
from .services.replay import replay_refusal

# How many of an instance's latest episodes its page lists, and how many the charts draw.
RECENT_EPISODES = 20
CHARTED_EPISODES = 1000


def human_duration(delta):
    """A timedelta as people say it: "0.4 s", "2.3 s", "4 min", "2 h 5 min", "3 days"; "–" for None."""
    if delta is None:
        return "–"
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = hours // 24
    return "1 day" if days == 1 else f"{days} days"


def short_id(instance_id):
    """The first 8 hex characters of an instance id: enough to tell instances apart in a list."""
    return str(instance_id)[:8]


def episodes_url(instance_id):
    """The episode list of the admin, filtered to one instance's."""
    return f"{reverse('admin:envs_episode_changelist')}?instance__id__exact={instance_id}"


def chart_rows(episodes):
    """Episodes as the chart takes them (the episodes route's rows), each with its admin page."""
    return [
        {
            **episode_row(episode),
            "sub_env": episode.sub_env,
            "instance": str(episode.instance_id),
            "url": reverse("admin:envs_episode_change", args=[episode.pk]),
        }
        for episode in episodes
    ]


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EnvInstance)
class EnvInstanceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    # Narrow columns, so that the list reads at 1,400 px: the id's first characters link to the record.
    list_display = ("short_id", "environment", "status", "owner", "render_mode", "created_at", "episode_count", "step_count")
    list_filter = ("status", "env_id", "render_mode", ("num_envs", admin.EmptyFieldListFilter), "resumable", "owner")
    list_select_related = ("owner",)
    list_per_page = 50
    search_fields = ("id", "env_id", "owner__name")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id", "env_id", "num_envs", "render_mode", "kwargs", "seed", "max_episode_steps", "status", "status_reason",
        "owner", "created_at", "closed_at", "process", "record_actions", "resumable", "vector_steps",
    )
    # The last episodes and the chart, not every episode inline: an instance may have thousands.
    change_form_template = "admin/envs/envinstance/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_episodes=Count("episodes"), _steps=Sum("episodes__steps"))

    @admin.display(description="id", ordering="id")
    def short_id(self, obj):
        return format_html('<code title="{}">{}</code>', obj.id, short_id(obj.id))

    @admin.display(description="environment", ordering="env_id")
    def environment(self, obj):
        label = obj.env_id if obj.num_envs is None else f"{obj.env_id} × {obj.num_envs}"
        url = reverse("admin:envs_envinstance_environment", args=[obj.env_id])
        return format_html('<a href="{}" title="Every {} instance\'s episodes">{}</a>', url, obj.env_id, label)

    @admin.display(description="episodes", ordering="_episodes")
    def episode_count(self, obj):
        return obj._episodes

    @admin.display(description="steps", ordering="_steps")
    def step_count(self, obj):
        return obj._steps or 0

    def get_urls(self):
        view = self.admin_site.admin_view(self.environment_view)
        # <path:...>: ids such as ALE/Pong-v5 hold a slash.
        return [path("environment/<path:env_id>/", view, name="envs_envinstance_environment")] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        instance = self.get_object(request, object_id)
        if instance is not None:
            latest = list(instance.episodes.order_by("-id")[:CHARTED_EPISODES])
            latest.reverse()
            extra_context = {
                **(extra_context or {}),
                "episode_count": instance.episodes.count(),
                "recent_episodes": [
                    {"episode": episode, "duration": human_duration(episode.duration)}
                    for episode in reversed(latest[-RECENT_EPISODES:])
                ],
                "chart_rows": chart_rows(latest),
                # A vector instance numbers each sub-environment's episodes from 1: its chart runs over time.
                "chart_x": "number" if instance.num_envs is None else "time",
                "episodes_url": episodes_url(instance.id),
                "monitor_url": reverse("instance", args=[instance.id]),
                "environment_url": reverse("admin:envs_envinstance_environment", args=[instance.env_id]),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def environment_view(self, request, env_id):
        """Every instance's episodes of one environment id: their returns over time, and a paged list."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        episodes = Episode.objects.filter(instance__env_id=env_id).select_related("instance")
        latest = list(episodes.filter(ended_at__isnull=False).order_by("-ended_at")[:CHARTED_EPISODES])
        latest.reverse()
        page = Paginator(episodes.order_by("-started_at", "-id"), 50).get_page(request.GET.get("page"))
        instances = EnvInstance.objects.filter(env_id=env_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{env_id}: episodes",
            "env_id": env_id,
            "instance_count": instances.count(),
            "episode_count": episodes.count(),
            "best_return": episodes.aggregate(best=Max("total_reward"))["best"],
            "page": page,
            "rows": [{"episode": episode, "duration": human_duration(episode.duration)} for episode in page],
            "chart_rows": chart_rows(latest),
            "instances_url": f"{reverse('admin:envs_envinstance_changelist')}?env_id={env_id}",
            "episodes_url": f"{reverse('admin:envs_episode_changelist')}?instance__env_id={env_id}",
        }
        return TemplateResponse(request, "admin/envs/envinstance/environment.html", context)


class OutcomeFilter(admin.SimpleListFilter):
    """How episodes ended, as the API's ``outcome`` filter says it."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(outcome, outcome) for outcome in OUTCOMES]

    def queryset(self, request, queryset):
        if self.value() not in OUTCOMES:
            return queryset
        return EpisodeFilter({"outcome": self.value()}, queryset=queryset).qs


# How many of an episode's actions its page spells out.
SHOWN_ACTIONS = 40


@admin.register(Episode)
class EpisodeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("number", "instance_link", "sub_env", "steps", "total_reward", "outcome", "started_at", "duration_display")
    list_display_links = ("number",)
    list_filter = (OutcomeFilter, "instance__env_id", ("ended_at", admin.DateFieldListFilter))
    date_hierarchy = "started_at"
    search_fields = ("instance__id", "instance__env_id")
    list_select_related = ("instance",)
    list_per_page = 50
    # The blobs stay out of the list's query; the page shows them in words.
    exclude = ("actions", "generator", "unreplayable")
    readonly_fields = (
        "instance", "sub_env", "number", "seed", "options", "started_at", "ended_at", "duration_display", "steps",
        "total_reward", "terminated", "truncated", "actions_summary", "replay_status",
    )
    # The episode's video and a replay button under its figures.
    change_form_template = "admin/envs/episode/change_form.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        listing = getattr(request.resolver_match, "url_name", "") == "envs_episode_changelist"
        return queryset.defer("actions", "generator") if listing else queryset

    @admin.display(description="actions")
    def actions_summary(self, obj):
        if obj.actions is None:
            return "not recorded"
        try:
            actions = actions_json(obj.actions)
        except ActionsError as error:
            return str(error)
        shown = ", ".join(str(action) for action in actions[:SHOWN_ACTIONS])
        more = f", … ({len(actions) - SHOWN_ACTIONS} more)" if len(actions) > SHOWN_ACTIONS else ""
        counts = ""
        if actions and all(type(action) is int for action in actions):  # Discrete: how often each one
            tally = {value: actions.count(value) for value in sorted(set(actions))}
            counts = " · ".join(f"{value}: {count}" for value, count in tally.items())
        return format_html(
            "{} action{}{}<br><code>{}{}</code>", len(actions), "" if len(actions) == 1 else "s",
            f" ({counts})" if counts else "", shown, more,
        )

    @admin.display(description="replay")
    def replay_status(self, obj):
        refusal = replay_refusal(obj)
        return "replayable: its seed (or saved generator state) and actions are recorded" if refusal is None else str(refusal.detail)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        episode = self.get_object(request, object_id)
        if episode is not None:
            refusal = replay_refusal(episode)
            extra_context = {
                **(extra_context or {}),
                "replayable": refusal is None,
                "has_video": refusal is None and episode.ended_at is not None,
                "api_url": f"/v1/episodes/{episode.pk}/",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="instance", ordering="instance")
    def instance_link(self, obj):
        url = reverse("admin:envs_envinstance_change", args=[obj.instance_id])
        return format_html(
            '{} <a href="{}" title="{}"><code>{}</code></a>', obj.instance.env_id, url, obj.instance_id, short_id(obj.instance_id)
        )

    @admin.display(description="duration")
    def duration_display(self, obj):
        return human_duration(obj.duration)

    def changelist_view(self, request, extra_context=None):
        # Filtered to one instance (its page links here): say whose episodes these are.
        try:
            instance_id = uuid.UUID(request.GET.get("instance__id__exact", ""))
        except ValueError:  # none, or not an id: the list says so itself
            instance_id = None
        instance = EnvInstance.objects.filter(pk=instance_id).first() if instance_id else None
        if instance is not None:
            extra_context = {**(extra_context or {}), "title": f"Episodes of {instance.env_id} {short_id(instance.id)}"}
        return super().changelist_view(request, extra_context)


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
