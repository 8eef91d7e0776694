from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("favicon.ico", views.favicon, name="favicon"),
    # /monitor.html and /agent.html are the seed's addresses; the others read better.
    path("monitor.html", views.monitor),
    path("monitor/", views.monitor, name="monitor"),
    path("monitor/<uuid:instance_id>/", views.instance, name="instance"),
    path("agent.html", views.agent),
    path("agent/", views.agent, name="agent"),
]
