"""The /v1/vector_envs/ API: batched vector environments. Each action validates
its body, calls one service or selector and returns what it gives."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import selectors
from .access import OwnedInstanceViews
from .http import dispatch
from .runtime import VECTOR
from .services.episodes import action_sample
from .services.instances import instance_close, instance_create
from .serializers import (
    CloseResponse,
    ResetRequest,
    ResetResponse,
    VectorCreateRequest,
    VectorCreateResponse,
    VectorEpisodesQuery,
    VectorEpisodesResponse,
    VectorInstanceResponse,
    VectorSampleResponse,
    VectorSpaceResponse,
    VectorStepRequest,
    VectorStepResponse,
)
from .views import BODY_ERRORS, CREATE_ERRORS, ERRORS, TIMEOUT, operate, validated


class VectorEnvViewSet(OwnedInstanceViews, viewsets.ViewSet):
    """Vector instances: num_envs sub-environments created, reset and stepped as one batch."""

    lookup_field = "instance_id"
    lookup_value_regex = "[^/]+"

    @extend_schema(
        summary="List active vector instances",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="{instance_id: {env_id, num_envs}}")},
    )
    def list(self, request):
        return Response(selectors.vector_list_active(caller=request.caller))

    @extend_schema(
        summary="Create a vector instance",
        request=VectorCreateRequest,
        responses={201: VectorCreateResponse, 400: ERRORS[400], **BODY_ERRORS, **CREATE_ERRORS},
    )
    def create(self, request):
        data = validated(VectorCreateRequest, request)
        instance = instance_create(kind=VECTOR, **data, owner_id=request.caller.key_id)
        return Response({"instance_id": str(instance.id), "num_envs": instance.num_envs}, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Describe a vector instance", responses={200: VectorInstanceResponse, **ERRORS})
    def retrieve(self, request, instance_id):
        return Response(selectors.vector_detail(instance_id=instance_id))

    @extend_schema(summary="Close and remove a vector instance", responses={200: CloseResponse, **ERRORS})
    def destroy(self, request, instance_id):
        return Response(instance_close(instance_id=instance_id, kind=VECTOR))

    @extend_schema(
        summary="Reset every sub-environment",
        request=ResetRequest,
        responses={200: ResetResponse, **ERRORS, **BODY_ERRORS, **TIMEOUT},
    )
    @action(detail=True, methods=["post"])
    def reset(self, request, instance_id):
        return Response(operate(dispatch.VECTOR_RESET, request, instance_id))

    @extend_schema(
        summary="Step with one action per sub-environment",
        request=VectorStepRequest,
        responses={200: VectorStepResponse, **ERRORS, **BODY_ERRORS, **TIMEOUT},
    )
    @action(detail=True, methods=["post"])
    def step(self, request, instance_id):
        return Response(operate(dispatch.VECTOR_STEP, request, instance_id))

    @extend_schema(summary="Describe the single and batched action spaces", responses={200: VectorSpaceResponse, **ERRORS})
    @action(detail=True, methods=["get"])
    def action_space(self, request, instance_id):
        return Response(selectors.vector_space_describe(instance_id=instance_id, which="action_space"))

    @extend_schema(
        summary="Describe the single and batched observation spaces", responses={200: VectorSpaceResponse, **ERRORS}
    )
    @action(detail=True, methods=["get"])
    def observation_space(self, request, instance_id):
        return Response(selectors.vector_space_describe(instance_id=instance_id, which="observation_space"))

    @extend_schema(summary="Sample a random action per sub-environment", responses={200: VectorSampleResponse, **ERRORS})
    @action(detail=True, methods=["get"], url_path="action_space/sample")
    def action_space_sample(self, request, instance_id):
        return Response({"action": action_sample(instance_id=instance_id, kind=VECTOR)})

    @extend_schema(
        summary="Recorded episodes of every sub-environment",
        description="The latest recorded episodes in the order they ended; closed and lost instances keep theirs.",
        parameters=[VectorEpisodesQuery],
        responses={200: VectorEpisodesResponse, 400: ERRORS[400], 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"])
    def episodes(self, request, instance_id):
        query = VectorEpisodesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.vector_episode_list(instance_id=instance_id, **query.validated_data))
