"""The filters of the recorded episodes (``GET /v1/episodes/``, ``manage.py export_minari``), with django-filter.

A value of the wrong type is a 400 naming its filter (DRF's ``ValidationError``
through the one error handler); numbers are held to what the database stores,
so that no value reaches it that it would refuse with a 500.
"""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from .models import Episode

OUTCOMES = ("terminated", "truncated", "interrupted", "running")
BIGGEST = 2**63 - 1


# Its own schema: drf-spectacular would take the column's range, which differs between databases.
@extend_schema_field({"type": "integer", "minimum": 0})
class CountFilter(django_filters.Filter):
    """A whole number, 0 or more."""

    field_class = forms.IntegerField


class FloatFilter(django_filters.Filter):
    """A finite float (Django's FloatField refuses inf and nan)."""

    field_class = forms.FloatField


class EpisodeFilterForm(forms.Form):
    """An empty filter (``?instance_id=``) is refused like a wrong one, not read as no filter:
    the schema says what each takes, and a client that sent one meant something."""

    def clean(self):
        cleaned = super().clean()
        for name in self.fields:
            if name in self.data and self.data.get(name) == "":
                self.add_error(name, "Enter a value, or leave this filter out.")
        return cleaned


class EpisodeFilter(django_filters.FilterSet):
    env_id = django_filters.CharFilter(field_name="instance__env_id", help_text="Episodes of this environment id.")
    instance_id = django_filters.UUIDFilter(field_name="instance_id", help_text="Episodes of this instance.")
    outcome = django_filters.ChoiceFilter(
        choices=[(outcome, outcome) for outcome in OUTCOMES], method="filter_outcome",
        help_text="terminated, truncated, interrupted (by a reset or the close) or running.",
    )
    min_return = FloatFilter(field_name="total_reward", lookup_expr="gte", help_text="Return at least this.")
    max_return = FloatFilter(field_name="total_reward", lookup_expr="lte", help_text="Return at most this.")
    min_steps = CountFilter(
        field_name="steps", lookup_expr="gte", min_value=0, max_value=BIGGEST, help_text="At least this many steps."
    )
    ended_after = django_filters.IsoDateTimeFilter(
        field_name="ended_at", lookup_expr="gte", help_text="Ended at or after this ISO 8601 time (UTC unless it says)."
    )
    ended_before = django_filters.IsoDateTimeFilter(
        field_name="ended_at", lookup_expr="lt", help_text="Ended before this ISO 8601 time."
    )

    class Meta:
        model = Episode
        fields = []
        form = EpisodeFilterForm

    def filter_outcome(self, queryset, name, value):
        if value == "terminated":
            return queryset.filter(terminated=True)
        if value == "truncated":
            return queryset.filter(terminated=False, truncated=True)
        ended = value == "interrupted"
        return queryset.filter(terminated=False, truncated=False, ended_at__isnull=not ended)
