"""``RemoteVectorEnv``: a ``gymnasium.vector.VectorEnv`` whose sub-environments live on a gymapi server."""

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import iterate

from .env import ServerInstance, auth_headers, base_url_of, creation_body, shared_session
from .errors import InstanceGone, NotFound
from .spaces import NON_FINITE, build_space, decode_value, encode_value


class RemoteVectorEnv(ServerInstance, VectorEnv):
    """``num_envs`` copies of an environment created on a gymapi server and stepped
    as one batch over HTTP (``POST /v1/vector_envs/``), one request per batched step.

    ``RemoteVectorEnv("http://127.0.0.1:5000", "CartPole-v1", 64)`` is used like
    ``gymnasium.make_vec("CartPole-v1", 64)``: the server builds it with the
    environment's own vector implementation when it has one, else a
    ``SyncVectorEnv``, and sub-environments reset themselves in Gymnasium's
    ``NEXT_STEP`` autoreset mode (``metadata["autoreset_mode"]``): the step
    after one ends resets it, ignoring its action.

    ``single_action_space``, ``single_observation_space`` and the batched
    ``action_space`` and ``observation_space`` are Gymnasium spaces rebuilt from
    the server's descriptions; ``reset`` and ``step`` return numpy batches
    (rewards as float64, terminations and truncations as bool arrays; infos as
    Gymnasium batches them, numeric lists as arrays). ``seed``
    seeds the first reset (sub-environment ``i`` with ``seed + i`` in sync mode)
    and the batched action space. ``max_episode_steps`` overrides the time limit;
    other keyword arguments go to each sub-environment's constructor.
    ``api_key`` is sent as ``Authorization: Bearer <key>``, as by ``RemoteEnv``.
    ``close()`` (or leaving a ``with`` block) deletes the instance on the server.
    """

    route = "vector_envs"

    def __init__(
        self,
        base_url,
        env_id,
        num_envs,
        *,
        seed=None,
        max_episode_steps=None,
        session=None,
        timeout=60.0,
        api_key=None,
        **make_kwargs,
    ):
        self.base_url = base_url_of(base_url)
        self.env_id = env_id
        self.timeout = timeout
        self._http = session if session is not None else shared_session()
        self._headers = auth_headers(api_key)
        self.instance_id = None

        body = creation_body(
            {"env_id": env_id, "num_envs": num_envs, "seed": seed, "max_episode_steps": max_episode_steps}, make_kwargs
        )
        self.instance_id = self._call("POST", "/v1/vector_envs/", body)["instance_id"]
        try:
            self.server_info = self._call("GET", self._path(""))
            actions = self._call("GET", self._path("action_space/"))
            observations = self._call("GET", self._path("observation_space/"))
        except BaseException:
            self.close()
            raise
        self.num_envs = self.server_info["num_envs"]
        self.single_action_space = build_space(actions["single"])
        self.action_space = build_space(actions["batched"])
        self.single_observation_space = build_space(observations["single"])
        self.observation_space = build_space(observations["batched"])
        self.metadata = {
            "autoreset_mode": AutoresetMode(self.server_info["autoreset_mode"]),
            "vectorization_mode": self.server_info["vectorization_mode"],
        }
        self._remember_seed(seed)

    # --- the Gymnasium vector API --------------------------------------------------

    def reset(self, *, seed=None, options=None):
        """Reset every sub-environment on the server; returns the batched ``(observations, infos)``."""
        seed, body = self._reset_request(seed, options)
        super().reset(seed=seed)
        answer = self._call("POST", self._path("reset/"), body)
        return decode_value(self.observation_space, answer["observation"]), self._infos(answer["info"])

    def step(self, actions):
        """Step every sub-environment with its action (a batch of the action space, or a
        list of ``num_envs`` actions); returns the batched five-tuple as numpy values."""
        answer = self._call("POST", self._path("step/"), {"action": self._encode_actions(actions)})
        return (
            decode_value(self.observation_space, answer["observation"]),
            np.array([NON_FINITE.get(r, r) if isinstance(r, str) else r for r in answer["reward"]], dtype=np.float64),
            np.array(answer["terminated"], dtype=np.bool_),
            np.array(answer["truncated"], dtype=np.bool_),
            self._infos(answer["info"]),
        )

    def _encode_actions(self, actions):
        if isinstance(actions, np.ndarray):
            return encode_value(actions)  # a batch of a Box or Discrete space: one row per sub-env
        if isinstance(actions, list):
            return [encode_value(action) for action in actions]
        # A batch of a Dict or Tuple space (a dict or tuple of arrays): one action per sub-env.
        return [encode_value(action) for action in iterate(self.action_space, actions)]

    def _infos(self, infos):
        """Gymnasium's vector infos: each key's list as an array (with its ``_key`` mask)."""
        decoded = {}
        for key, value in infos.items():
            if isinstance(value, dict):
                value = self._infos(value)
            elif isinstance(value, list) and len(value) == self.num_envs:
                array = np.asarray(value) if all(not isinstance(item, (dict, list)) for item in value) else None
                if array is not None and array.dtype.kind in "biuf":
                    value = array
            decoded[key] = value
        return decoded

    def close_extras(self, **kwargs):
        """Delete the instance on the server (``close()`` calls it once)."""
        if self.instance_id is None:
            return
        try:
            self._call("DELETE", self._path(""))
        except (InstanceGone, NotFound):
            pass  # already closed, or lost in a server restart: nothing is left to free

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def __repr__(self):
        count = getattr(self, "num_envs", "?")
        return f"<RemoteVectorEnv {count} x {self.env_id} {self.instance_id} at {self.base_url}>"
