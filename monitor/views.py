"""Pages for people: the landing page (the monitor and agent pages come with the monitoring work)."""

from django.shortcuts import render


def index(request):
    """The landing page: what the server is and where to go."""
    return render(request, "index.html")
