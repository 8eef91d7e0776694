"""/v1/episodes/: every recorded episode the caller may see, filtered and paged, one
episode with what replays it, its replay and its videos. Each action calls one selector or
service and returns what it gives."""

from django import forms
from django.core.exceptions import ValidationError as FormError
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from . import selectors
from .filters import EpisodeFilter
from .models import Episode
from .renderers import CSVRenderer, ORJSONRenderer, acsv_chunks, csv_chunks
from .serializers import EpisodeDetail, EpisodeSummary, ErrorResponse, ReplayResponse
from .services.replay import episode_replay
from .services.videos import FORMATS, episode_video
from .views import ERRORS, JSONErrors

# Episodes read from the database and written out as CSV at a time: all a CSV export holds in memory.
CSV_CHUNK = 2000
EPISODE_ID = [OpenApiParameter("episode_id", int, OpenApiParameter.PATH, description="The episode's id.")]
EPISODE_ERRORS = {404: OpenApiResponse(ErrorResponse, description="No such episode (or another key's).")}
REPLAY_ERRORS = {
    409: OpenApiResponse(ErrorResponse, description="It cannot be replayed: the code and detail say why."),
    503: OpenApiResponse(ErrorResponse, description="As many replays and renders as GYMAPI_MAX_REPLAYS run already."),
    504: OpenApiResponse(ErrorResponse, description="The replay took longer than GYMAPI_REPLAY_TIMEOUT."),
    **EPISODE_ERRORS,
}


class NewestFirst(CursorPagination):
    """Cursor pages, newest episode first: no count, so a page costs the same on a million rows."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        # DRF falls back to the default on a bad value; like a bad filter, it is a 400 naming it.
        if self.page_size_query_param not in request.query_params:
            return self.page_size
        try:
            size = forms.IntegerField(min_value=1).clean(request.query_params[self.page_size_query_param])
        except FormError as error:
            raise serializers.ValidationError({self.page_size_query_param: error.messages}) from None
        return min(size, self.max_page_size)

    def decode_cursor(self, request):
        # DRF's 404 for a cursor it cannot read: a bad value of a query parameter, a 400 naming it.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise serializers.ValidationError(
                {self.cursor_query_param: ["Not a cursor of this list: follow the next and previous links."]}
            ) from None


def episodes_csv(request, episodes):
    """``episodes`` (a queryset) as a streaming CSV response, read and sent ``CSV_CHUNK`` rows at a time.

    Served over ASGI the rows come from an asynchronous iterator: Django reads a
    synchronous one into a list before it sends a byte. Under WSGI (the test
    client, ``gymapi.wsgi``) a synchronous iterator is what streams.
    """
    columns = selectors.EPISODE_COLUMNS
    if isinstance(request._request, ASGIRequest):
        async def rows():
            async for episode in episodes.aiterator(chunk_size=CSV_CHUNK):
                yield selectors.episode_summary(episode)

        content = acsv_chunks(columns, rows(), CSV_CHUNK)
    else:
        content = csv_chunks(columns, map(selectors.episode_summary, episodes.iterator(chunk_size=CSV_CHUNK)), CSV_CHUNK)
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="episodes.csv"'
    return response


class CSVByFormat(DefaultContentNegotiation):
    """``?format=csv`` as well as ``Accept: text/csv`` (the API takes no other ``format``)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.query_params.get("format") == "csv":
            format_suffix = "csv"
        return super().select_renderer(request, renderers, format_suffix)


class EpisodeViewSet(viewsets.GenericViewSet):
    """Recorded episodes, of every instance the caller may see."""

    lookup_field = "episode_id"
    lookup_value_regex = "[^/.]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = EpisodeFilter
    pagination_class = NewestFirst
    content_negotiation_class = CSVByFormat

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's generator has no caller
            return Episode.objects.none()
        return selectors.episode_queryset(caller=self.request.caller)

    def get_renderers(self):
        renderers = super().get_renderers()
        return renderers + [CSVRenderer()] if self.action == "list" else renderers

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False) and isinstance(getattr(request, "accepted_renderer", None), CSVRenderer):
            request.accepted_renderer, request.accepted_media_type = ORJSONRenderer(), ORJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        summary="Recorded episodes",
        description=(
            "Every recorded episode the caller may see, newest first, in cursor pages. With ?format=csv (or "
            "Accept: text/csv), every matching episode as CSV, the same columns."
        ),
        responses={200: EpisodeSummary(many=True), 400: ERRORS[400]},
    )
    def list(self, request):
        episodes = self.filter_queryset(self.get_queryset())
        if isinstance(request.accepted_renderer, CSVRenderer):
            return episodes_csv(request, episodes)
        page = self.paginate_queryset(episodes)
        return self.get_paginated_response([selectors.episode_summary(episode) for episode in page])

    @extend_schema(
        summary="One recorded episode, with what replays it", parameters=EPISODE_ID,
        responses={200: EpisodeDetail, **EPISODE_ERRORS},
    )
    def retrieve(self, request, episode_id):
        return Response(selectors.episode_detail(episode_id=episode_id, caller=request.caller))

    @extend_schema(
        summary="Replay an episode",
        description="Re-runs the episode in a fresh environment from its seed, options and actions.",
        parameters=EPISODE_ID,
        responses={200: ReplayResponse, **REPLAY_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def replay(self, request, episode_id):
        return Response(episode_replay(episode_id=episode_id, caller=request.caller))

    @extend_schema(
        summary="The episode's video: MP4 (H.264) or GIF",
        operation_id="v1_episodes_video_retrieve",
        description="Rendered by replaying it in rgb_array mode, once (then kept); one frame per state.",
        parameters=[*EPISODE_ID, OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=sorted(FORMATS))],
        responses={(200, "video/mp4"): OpenApiTypes.BINARY, (200, "image/gif"): OpenApiTypes.BINARY, **REPLAY_ERRORS},
    )
    @action(detail=True, methods=["get"], url_path=r"video\.(?P<fmt>mp4|gif)", content_negotiation_class=JSONErrors)
    def video(self, request, episode_id, fmt):
        file, content_type = episode_video(episode_id=episode_id, caller=request.caller, fmt=fmt)
        response = FileResponse(file, content_type=content_type)
        response["Cache-Control"] = "private, max-age=86400"  # an ended episode's video never changes
        return response
