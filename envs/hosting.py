"""One instance held in a Ray worker process (``GYMAPI_RUNTIME=ray``): what the fronts' calls
run, as a front runs them on an instance of its own.

The actor (``envs.actors.InstanceActor``) holds an ``InstanceHost``, which
holds the live environment in a local runtime of its own and answers with
plain data: bodies, episode rows, frames, and errors shaped by ``errors.py``.
It never touches the database (its process has none): the front that took a
call writes the rows it decided, and ends an instance that broke.
"""

from gymapi_client.spaces import encode_any

from . import binary, limits, rendering
from .errors import error_body
from .recording import episodes as recording
from .runtime import VECTOR, Runtime
from .services import episodes

ENCODERS = {"json": encode_any, "msgpack": binary.encode_value}
OPERATIONS = {"step": episodes.step, "reset": episodes.reset}


class InstanceHost:
    """The live instance of one actor, and the calls a front makes on it."""

    def __init__(self, instance_id, creation):
        self.error = None
        try:
            if creation.kind == VECTOR:  # measured by building one environment: here, not in a front
                limits.check_vector_observations(creation.env_id, creation.num_envs, creation.kwargs)
            self.live = Runtime().create(instance_id, creation)
        except Exception as error:  # said to the front that asked, as the local runtime says it
            self.live = None
            self.error = error_body(error)

    def describe(self):
        """What never changes: kind, env id, spaces, spec, owner; or the creation's error."""
        if self.error is not None:
            return {"error": self.error}
        live = self.live
        static = {
            "kind": live.kind, "env_id": live.env_id, "owner_id": live.owner_id, "render_mode": live.render_mode,
            "action_space": live.action_space, "observation_space": live.observation_space, "spec": live.spec,
            "metadata": live.metadata, "version": None,  # a version a front cannot know: it asks the actor
        }
        if live.kind == VECTOR:
            static.update(
                num_envs=live.num_envs, vectorization_mode=live.vectorization_mode, autoreset_mode=live.autoreset_mode,
                single_action_space=live.single_action_space, single_observation_space=live.single_observation_space,
            )
        return static

    def perform(self, name, arguments, encoding):
        """A hot operation: ``(body, rows, error, broken)``: its body and the episode rows to
        write, or its error shaped (status, body) and, when the environment broke, why."""
        live = self.live
        try:
            with live.lock:
                body, rows = OPERATIONS[name](live, encode=ENCODERS[encoding], **arguments)
            return body, rows, None, None
        except Exception as error:
            return None, [], error_body(error, f"the actor of {live.instance_id}"), live.broken

    def render_body(self):
        """The render route's body, or the error shaped, as ``perform`` says it."""
        live = self.live
        try:
            rendering.check_renderable(live)
            with live.lock:
                rendering.check_has_state(live)
                return rendering.render_body(live.render_mode, live.render()), None, None
        except Exception as error:
            return None, error_body(error, f"the actor of {live.instance_id}"), live.broken

    def viewer_frame(self, known_version):
        """The frame viewers see (JPEG bytes and counters), or None when it is still ``known_version``."""
        frame = rendering.viewer_frame(self.live)
        return None if frame is None or frame.version == known_version else frame

    def snapshot(self):
        return self.live.snapshot()

    def sample_action(self):
        return self.live.sample_action()

    def take_rows(self):
        """The rows of the vector episodes that ended since the last write (before a listing)."""
        with self.live.lock:
            return recording.vector_taken(self.live)

    def end(self):
        """The instance ends: its running episodes' rows (ended as interrupted); the environment closed."""
        live = self.live
        with live.lock:
            rows = recording.vector_taken(live, live.end_episodes()) if live.kind == VECTOR else recording.closed(live)
        live.close()
        return rows
