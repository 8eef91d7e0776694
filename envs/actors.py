"""The Ray actor of one instance (``GYMAPI_RUNTIME=ray``; envs/runtime/ray.py names and finds them).

Ray runs each in a worker process of its own, one call at a time; the actor
sets Django up in that process, then hands every call to an ``InstanceHost``
(envs/hosting.py), which holds the environment. Imported only by a server on
the Ray runtime: the local runtime never imports Ray.
"""

import os

import django
import ray


@ray.remote
class InstanceActor:
    """One instance, single or vector, in a process of the cluster."""

    def __init__(self, instance_id, creation):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gymapi.settings")
        django.setup()
        from .hosting import InstanceHost  # needs the apps set up above

        self.host = InstanceHost(instance_id, creation)

    def describe(self):
        return self.host.describe()

    def perform(self, name, arguments, encoding):
        return self.host.perform(name, arguments, encoding)

    def render_body(self):
        return self.host.render_body()

    def viewer_frame(self, known_version):
        return self.host.viewer_frame(known_version)

    def snapshot(self):
        return self.host.snapshot()

    def sample_action(self):
        return self.host.sample_action()

    def take_rows(self):
        return self.host.take_rows()

    def end(self):
        return self.host.end()

    def pid(self):
        """Its worker's process id (for the tests that kill it)."""
        return os.getpid()
