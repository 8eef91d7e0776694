"""Pages for people: the landing page, the monitor, an instance's page and the agent.

The pages only use the documented API (REST and WebSocket) from the browser;
these views just serve them.

When the server requires API keys, the monitor, instance and agent pages
require a logged-in staff user (the admin's login). Their browser then reads
every instance (the monitor shows them all); the agent, which creates and
steps instances, asks for a key in the page (envs/access.py).
"""

from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from envs.models import EnvInstance


def staff_when_keys_required(view):
    """The view for anyone when keys are off; for logged-in staff when they are required."""
    guarded = staff_member_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if settings.GYMAPI_REQUIRE_KEYS:
            return guarded(request, *args, **kwargs)
        return view(request, *args, **kwargs)

    return wrapped


FAVICON = Path(__file__).resolve().parent / "static" / "monitor" / "favicon.ico"


@require_safe
def favicon(request):
    """/favicon.ico: browsers ask for it whatever a page links (the API's pages, the admin, a JSON body)."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon", headers={"Cache-Control": "max-age=86400"})


def index(request):
    """The landing page: what the server is and where to go."""
    return render(request, "index.html")


@staff_when_keys_required
def monitor(request):
    """Every active instance as a live tile, which can be closed from the page."""
    return render(request, "monitor.html", {"idle_limit": settings.GYMAPI_IDLE_SECONDS})


@staff_when_keys_required
def instance(request, instance_id):
    """One instance: a large live view and the chart of its recorded episodes (closed ones too)."""
    return render(request, "monitor_instance.html", {"instance": get_object_or_404(EnvInstance, pk=instance_id)})


@staff_when_keys_required
def agent(request):
    """An agent to edit and run in the browser (with a key field when keys are required)."""
    return render(request, "agent.html", {"require_keys": settings.GYMAPI_REQUIRE_KEYS})
