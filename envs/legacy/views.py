"""Legacy mode's routes: each validates what the older clients send, calls one
service, and answers in the older API's shape. Errors are ``{"message": ...}``,
status 400, as that API sent them."""

from django.conf import settings
from django.http import FileResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..access import OwnedInstanceViews
from ..errors import InstanceGone, InstanceNotFound, error_body
from ..http import dispatch
from ..renderers import ORJSONRenderer
from ..runtime import SINGLE
from ..serializers import CreateRequest, ResetRequest, StepRequest
from ..services.episodes import action_sample
from ..services.instances import instance_close
from ..views import validated
from . import services as legacy

# Statuses kept as they are; every other client error is a 400, as the older API's were.
KEPT_STATUSES = {403, 404, 405, 429}
GONE_REASONS = {"instance_closed": "closed", "instance_lost": "lost when the server restarted"}


def exception_handler(exc, context):
    """Every error as ``{"message": ...}``; an unknown or closed instance is ``Instance_id <id> unknown``."""
    instance_id = context["kwargs"].get("instance_id")
    if isinstance(exc, InstanceNotFound):
        return Response({"message": f"Instance_id {instance_id} unknown"}, status=400)
    if isinstance(exc, InstanceGone):
        reason = GONE_REASONS.get(exc.get_codes(), "gone")
        return Response({"message": f"Instance_id {instance_id} unknown ({reason})"}, status=400)
    status_code, body, headers = error_body(exc, context.get("view"))
    if status_code < 500 and status_code not in KEPT_STATUSES:
        status_code = 400
    return Response({"message": body["detail"]}, status=status_code, headers=headers)


class LegacyView(OwnedInstanceViews, APIView):
    renderer_classes = [ORJSONRenderer]

    def get_exception_handler(self):
        return exception_handler


class EnvsView(LegacyView):
    def get(self, request):
        return Response({"all_envs": selectors.instance_list_active(caller=request.caller)})

    def post(self, request):
        instance = legacy.env_create(**validated(CreateRequest, request), owner_id=request.caller.key_id)
        # env_id: what is served, which a retired id's client may want to know.
        return Response({"instance_id": str(instance.id), "env_id": instance.env_id})


class ResetView(LegacyView):
    def post(self, request, instance_id):
        # The older server never read reset's body: its Ruby and Lua bindings send "", Matlab's
        # [], some nothing at all. An object may carry a seed; any other body is ignored.
        try:
            body = request.data
        except exceptions.ParseError:
            body = None
        data = validated(ResetRequest, request) if isinstance(body, dict) else {}
        return Response(dispatch.call(dispatch.RESET, instance_id, data, caller=request.caller).result())


class StepView(LegacyView):
    def post(self, request, instance_id):
        # "render" asked the older server to draw a window; frames here are for
        # the monitor and the watching pages, so it is accepted and needs nothing.
        data = validated(StepRequest, request)
        return Response(dispatch.call(dispatch.STEP, instance_id, data, caller=request.caller).result())


class SpaceView(LegacyView):
    which = None

    def get(self, request, instance_id):
        return Response({"info": legacy.space_info(instance_id=instance_id, which=self.which)})


class ActionSampleView(LegacyView):
    def get(self, request, instance_id):
        return Response({"action": action_sample(instance_id=instance_id, kind=SINGLE)})


class ActionContainsView(LegacyView):
    def get(self, request, instance_id, x):
        return Response({"member": legacy.action_contains(instance_id=instance_id, x=x)})


class ObservationContainsView(LegacyView):
    def post(self, request, instance_id):
        member = legacy.observation_space_contains(instance_id=instance_id, properties=request.data)
        return Response({"member": member})


class CloseView(LegacyView):
    def post(self, request, instance_id):
        instance_close(instance_id=instance_id, kind=SINGLE)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MonitorStartView(LegacyView):
    def post(self, request, instance_id):
        data = request.data if isinstance(request.data, dict) else {}
        legacy.monitor_start(
            instance_id=instance_id,
            directory=data.get("directory"),
            force=data.get("force", False),
            resume=data.get("resume", False),
            video_callable=data.get("video_callable", False),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MonitorCloseView(LegacyView):
    def post(self, request, instance_id):
        legacy.monitor_close(instance_id=instance_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MonitorFilesView(LegacyView):
    def get(self, request, instance_id):
        return Response(legacy.monitor_files(instance_id=instance_id))


class MonitorFileView(LegacyView):
    def get(self, request, instance_id, name):
        path = legacy.monitor_file(instance_id=instance_id, name=name)
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


class ShutdownView(LegacyView):
    def post(self, request):
        if not settings.GYMAPI_ALLOW_SHUTDOWN:
            raise legacy.ShutdownDisabled()
        legacy.server_shutdown()
        return Response({"message": "Server shutting down"})


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other /v1 path, for any method."""
    return JsonResponse({"message": f"No route {request.method} {request.path}"}, status=404)
