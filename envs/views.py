"""The /v1 API. Each action validates its body, calls one service or selector,
and returns what it gives."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from gymapi_client.spaces import encode_any
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from . import binary, rendering, selectors
from .access import OwnedInstanceViews
from .http import dispatch
from .runtime import SINGLE
from .services.episodes import action_sample, space_contains
from .services.instances import instance_close, instance_create
from .registry import registry_list
from .serializers import (
    CloseResponse,
    ContainsRequest,
    ContainsResponse,
    CreateRequest,
    CreateResponse,
    EnvSpec,
    EpisodesQuery,
    EpisodesResponse,
    ErrorResponse,
    InstanceResponse,
    RenderResponse,
    ResetRequest,
    ResetResponse,
    SampleResponse,
    SpaceResponse,
    StepRequest,
    StepResponse,
)

ERRORS = {
    400: OpenApiResponse(ErrorResponse, description="Invalid input; the environment is unchanged."),
    404: OpenApiResponse(ErrorResponse, description="No such instance."),
    410: OpenApiResponse(ErrorResponse, description="The instance was closed, lost in a restart, reaped for being idle, or broke."),
}
# Calls into the environment (README, Limits).
TIMEOUT = {504: OpenApiResponse(ErrorResponse, description="The environment did not answer within GYMAPI_CALL_TIMEOUT; the instance broke.")}
CREATE_ERRORS = {
    429: OpenApiResponse(ErrorResponse, description="The server (GYMAPI_MAX_INSTANCES) or the key holds its most instances."),
    **TIMEOUT,
}
# What a request body can get besides: too large, or not JSON nor msgpack.
BODY_ERRORS = {
    413: OpenApiResponse(ErrorResponse, description="The body is larger than the server accepts."),
    415: OpenApiResponse(ErrorResponse, description="The body is neither JSON nor msgpack."),
}


def validated(serializer_class, request):
    """The request body validated by ``serializer_class``; an empty or null body counts as ``{}``."""
    data = request.data if request.data is not None else {}
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def operate(operation, request, instance_id):
    """The body of a hot operation (http/dispatch.py), run as the fast path runs it in its thread.

    The body is validated here first: DRF's parser reads what the fast path's does not
    (non-finite numbers), which the serializer words."""
    data = validated(operation.request, request)
    encode = value_encoder(request)
    return dispatch.call(operation, instance_id, data, caller=request.caller, encode=encode).result()


def value_encoder(request):
    """How this response spells observations and actions: JSON values by default,
    raw arrays when the client asked for msgpack."""
    if request.accepted_renderer.media_type == binary.CONTENT_TYPE:
        return binary.encode_value
    return encode_any


class JSONErrors(BaseContentNegotiation):
    """For routes whose success is not JSON (the MJPEG stream): whatever the
    client accepts (an <img> asks for image/*), errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class EnvViewSet(OwnedInstanceViews, viewsets.ViewSet):
    """Environment instances: create, drive, describe and close them."""

    lookup_field = "instance_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        summary="List active instances",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{instance_id: env_id}")},
    )
    def list(self, request):
        return Response(selectors.instance_list_active(caller=request.caller))

    @extend_schema(summary="Create an instance", request=CreateRequest, responses={201: CreateResponse, 400: ERRORS[400], **BODY_ERRORS, **CREATE_ERRORS})
    def create(self, request):
        data = validated(CreateRequest, request)
        instance = instance_create(kind=SINGLE, **data, owner_id=request.caller.key_id)
        return Response({"instance_id": str(instance.id)}, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Describe an instance", responses={200: InstanceResponse, **ERRORS})
    def retrieve(self, request, instance_id):
        return Response(selectors.instance_detail(instance_id=instance_id))

    @extend_schema(summary="Close and remove an instance", responses={200: CloseResponse, **ERRORS})
    def destroy(self, request, instance_id):
        return Response(instance_close(instance_id=instance_id, kind=SINGLE))

    @extend_schema(summary="Reset: start a new episode", request=ResetRequest, responses={200: ResetResponse, **ERRORS, **BODY_ERRORS, **TIMEOUT})
    @action(detail=True, methods=["post"])
    def reset(self, request, instance_id):
        return Response(operate(dispatch.RESET, request, instance_id))

    @extend_schema(summary="Step with an action", request=StepRequest, responses={200: StepResponse, **ERRORS, **BODY_ERRORS, **TIMEOUT})
    @action(detail=True, methods=["post"])
    def step(self, request, instance_id):
        return Response(operate(dispatch.STEP, request, instance_id))

    @extend_schema(summary="Describe the action space", responses={200: SpaceResponse, **ERRORS})
    @action(detail=True, methods=["get"])
    def action_space(self, request, instance_id):
        return Response(selectors.space_describe(instance_id=instance_id, which="action_space"))

    @extend_schema(summary="Describe the observation space", responses={200: SpaceResponse, **ERRORS})
    @action(detail=True, methods=["get"])
    def observation_space(self, request, instance_id):
        return Response(selectors.space_describe(instance_id=instance_id, which="observation_space"))

    @extend_schema(summary="Sample a random action", responses={200: SampleResponse, **ERRORS})
    @action(detail=True, methods=["get"], url_path="action_space/sample")
    def action_space_sample(self, request, instance_id):
        return Response({"action": action_sample(instance_id=instance_id, kind=SINGLE, encode=value_encoder(request))})

    @extend_schema(
        summary="Is x a member of the action space?",
        request=ContainsRequest,
        responses={200: ContainsResponse, **ERRORS, **BODY_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="action_space/contains")
    def action_space_contains(self, request, instance_id):
        data = validated(ContainsRequest, request)
        return Response({"member": space_contains(instance_id=instance_id, kind=SINGLE, which="action_space", x=data["x"])})

    @extend_schema(
        summary="Is x a member of the observation space?",
        request=ContainsRequest,
        responses={200: ContainsResponse, **ERRORS, **BODY_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="observation_space/contains")
    def observation_space_contains(self, request, instance_id):
        data = validated(ContainsRequest, request)
        member = space_contains(instance_id=instance_id, kind=SINGLE, which="observation_space", x=data["x"])
        return Response({"member": member})

    @extend_schema(summary="Render the current state", responses={200: RenderResponse, **ERRORS, **TIMEOUT})
    @action(detail=True, methods=["get"], url_path="monitor/render")
    def monitor_render(self, request, instance_id):
        return Response(rendering.env_render(instance_id=instance_id))

    @extend_schema(
        summary="Stream frames (MJPEG)",
        description=(
            "A multipart/x-mixed-replace stream of JPEG frames for an <img src> or any MJPEG viewer: a frame "
            "whenever the environment changed, at most GYMAPI_STREAM_FPS a second, until the instance is closed."
        ),
        responses={(200, "multipart/x-mixed-replace"): OpenApiTypes.BINARY, **ERRORS},
    )
    @action(detail=True, methods=["get"], url_path="monitor/stream", content_negotiation_class=JSONErrors)
    def monitor_stream(self, request, instance_id):
        live = rendering.stream_open(instance_id=instance_id)
        response = StreamingHttpResponse(
            rendering.mjpeg_stream(live),
            content_type=f"multipart/x-mixed-replace; boundary={rendering.MJPEG_BOUNDARY}",
        )
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        summary="Recorded episodes",
        description="The latest recorded episodes, oldest first; closed and lost instances keep theirs.",
        parameters=[EpisodesQuery],
        responses={200: EpisodesResponse, 400: ERRORS[400], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"])
    def episodes(self, request, instance_id):
        query = EpisodesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.episode_list(instance_id=instance_id, **query.validated_data))


class RegistryViewSet(viewsets.ViewSet):
    """The environment ids this server can create."""

    @extend_schema(
        summary="List creatable environments",
        parameters=[OpenApiParameter("q", str, description="Case-insensitive substring of the id.")],
        responses={200: EnvSpec(many=True)},
    )
    def list(self, request):
        return Response(registry_list(query=request.query_params.get("q")))
