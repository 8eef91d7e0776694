"""Pages for people: the landing page, the monitor, an instance's page and the agent.

The pages only use the documented API (REST and WebSocket) from the browser;
these views just serve them.
"""

from django.shortcuts import get_object_or_404, render

from envs.models import EnvInstance


def index(request):
    """The landing page: what the server is and where to go."""
    return render(request, "index.html")


def monitor(request):
    """Every active instance as a live tile."""
    return render(request, "monitor.html")


def instance(request, instance_id):
    """One instance: a large live view and the chart of its recorded episodes (closed ones too)."""
    return render(request, "monitor_instance.html", {"instance": get_object_or_404(EnvInstance, pk=instance_id)})


def agent(request):
    """An agent to edit and run in the browser."""
    return render(request, "agent.html")
