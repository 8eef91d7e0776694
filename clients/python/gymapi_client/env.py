"""``RemoteEnv``: a ``gymnasium.Env`` whose environment lives on a gymapi server."""

import base64
import io
import os
import threading

import gymnasium as gym
import numpy as np
import requests
from gymnasium.envs.registration import EnvSpec

from .errors import InstanceGone, NotFound, ServerUnreachable, error_for
from .socket import StepSocket, step_path
from .spaces import NON_FINITE, build_space, decode_value, encode_value

TRANSPORTS = ("http", "websocket")

USER_AGENT = "gymapi-client/0.1"

_sessions = {}
_sessions_lock = threading.Lock()


def shared_session():
    """The ``requests.Session`` every ``RemoteEnv`` of this process shares unless given one.

    One per process: a session's open connections must not be shared across a fork.
    """
    pid = os.getpid()
    with _sessions_lock:
        session = _sessions.get(pid)
        if session is None:
            session = _sessions[pid] = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
        return session


def call_server(http, base_url, method, path, body=None, *, timeout=60.0, headers=None):
    """One request to the server: its JSON answer (None for an empty one), or a ``GymapiError``."""
    url = base_url + path
    try:
        response = http.request(method, url, json=body, timeout=timeout, headers=headers)
    except requests.Timeout as error:
        raise ServerUnreachable(f"{method} {url} got no answer within {timeout} s") from error
    except requests.ConnectionError as error:
        raise ServerUnreachable(f"cannot reach a gymapi server at {base_url}: {error}") from error
    if response.status_code >= 400:
        try:
            answer = response.json()
        except ValueError:
            answer = {"detail": response.text[:500] or response.reason}
        raise error_for(response.status_code, answer)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def auth_headers(api_key):
    """The headers that carry ``api_key`` (None: a server that requires no keys)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else None


def creation_body(fields, make_kwargs):
    """A create's body: ``fields`` but those left None, and the environment's keyword arguments."""
    body = {name: value for name, value in fields.items() if value is not None}
    if make_kwargs:
        body["kwargs"] = encode_value(make_kwargs)
    return body


def base_url_of(base_url):
    """``http://host:port`` from what a user may give (a trailing slash, a ``/v1``)."""
    base_url = base_url.rstrip("/")
    if base_url.endswith("/v1"):
        base_url = base_url[: -len("/v1")]
    return base_url


class RemoteEntryPoint:
    """The entry point of a ``RemoteEnv``'s ``spec``: ``env.spec.make(render_mode=...)``
    creates another instance on the same server, through the same session."""

    def __init__(self, session=None, api_key=None):
        self.session = session
        self.api_key = api_key  # here, not in the spec's kwargs, which are shown and pickled

    def __call__(self, **kwargs):
        return RemoteEnv(session=self.session, api_key=self.api_key, **kwargs)

    def __repr__(self):
        return "gymapi_client.RemoteEnv"


class ServerInstance:
    """What ``RemoteEnv`` and ``RemoteVectorEnv`` share: one instance on a server,
    under ``/v1/{route}/{instance_id}/``, and the rule of the creation seed."""

    route = "envs"

    def _path(self, rest):
        return f"/v1/{self.route}/{self.instance_id}/{rest}"

    def _call(self, method, path, body=None):
        return call_server(self._http, self.base_url, method, path, body, timeout=self.timeout, headers=self._headers)

    def _remember_seed(self, seed):
        # As on the server: the creation seed seeds the first reset and the action space.
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)

    def _reset_request(self, seed, options):
        """``(seed, body)``: the seed Gymnasium's own ``reset`` takes here, and the reset's body.

        As on the server, the creation seed seeds the first reset (unless that
        reset names its own) and is spent by it.
        """
        if seed is None:
            seed = self._pending_seed
            body = {}  # the server applies its own pending creation seed
        else:
            body = {"seed": seed}
        self._pending_seed = None
        if options is not None:
            body["options"] = encode_value(options)
        return seed, body


class RemoteEnv(ServerInstance, gym.Env):
    """An environment created on a gymapi server and driven over HTTP.

    ``RemoteEnv("http://127.0.0.1:5000", "CartPole-v1")`` is used like
    ``gymnasium.make("CartPole-v1")``: its spaces are real Gymnasium spaces
    rebuilt from the server's descriptions, observations come back as numpy
    values of the right dtype and shape, and ``close()`` (or leaving a ``with``
    block) deletes the instance on the server.

    ``seed`` seeds the first reset and the action space, on the server and
    here. ``max_episode_steps`` overrides the registered time limit. Other
    keyword arguments go to the environment's constructor on the server.
    ``api_key`` is sent as ``Authorization: Bearer <key>`` to a server that
    requires keys (README, Deployment for a team); without a valid one such a
    server answers ``Unauthorized``.
    ``transport="websocket"`` sends ``reset`` and ``step`` over the server's
    WebSocket step protocol (``ws/envs/{id}/step/``, one connection kept open,
    about twice the steps per second of HTTP for a cheap environment);
    everything else still goes over HTTP.
    ``render_mode`` is ``"rgb_array"`` (frames as ``(H, W, 3)`` uint8 arrays),
    ``"ansi"`` (text), their ``*_list`` forms, or ``None``; ``"human"`` is
    refused because it would open a window on the server, not here.

    Errors the server answers with are raised as ``GymapiError`` subclasses
    (``InvalidRequest``, ``ResetNeeded``, ``NotFound``, ``InstanceGone``...).
    """

    def __init__(
        self,
        base_url,
        env_id,
        *,
        render_mode=None,
        seed=None,
        max_episode_steps=None,
        session=None,
        timeout=60.0,
        api_key=None,
        transport="http",
        **make_kwargs,
    ):
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        if render_mode == "human":
            raise ValueError(
                "render_mode='human' would draw in a window on the server. Use 'rgb_array' and show the "
                "frames render() returns, or watch the instance in the server's /monitor.html."
            )
        base_url = base_url_of(base_url)
        self.base_url = base_url
        self.env_id = env_id
        self.render_mode = render_mode
        self.timeout = timeout
        self._session = session
        self._http = session if session is not None else shared_session()
        self._headers = auth_headers(api_key)
        self._api_key = api_key
        self.transport = transport
        self._socket = None  # the step socket, opened by the first reset or step over it
        self._closed = False
        self.instance_id = None

        body = creation_body(
            {"env_id": env_id, "render_mode": render_mode, "seed": seed, "max_episode_steps": max_episode_steps},
            make_kwargs,
        )
        self.instance_id = self._call("POST", "/v1/envs/", body)["instance_id"]
        try:
            self.server_info = self._call("GET", self._path(""))
            self.action_space = build_space(self._call("GET", self._path("action_space/")))
            self.observation_space = build_space(self._call("GET", self._path("observation_space/")))
        except BaseException:
            self.close()
            raise

        spec = self.server_info.get("spec") or {}
        self.metadata = {
            # "human" draws on the server's display, never here.
            "render_modes": [mode for mode in spec.get("render_modes") or [] if mode != "human"],
            "render_fps": spec.get("render_fps"),
        }
        spec_kwargs = {"base_url": base_url, "env_id": env_id, "timeout": timeout, **make_kwargs}
        if transport != "http":
            spec_kwargs["transport"] = transport
        if render_mode is not None:
            spec_kwargs["render_mode"] = render_mode
        if max_episode_steps is not None:
            spec_kwargs["max_episode_steps"] = max_episode_steps
        self.spec = EnvSpec(
            id=env_id,
            entry_point=RemoteEntryPoint(session, api_key),
            reward_threshold=_number(spec.get("reward_threshold")),
            nondeterministic=bool(spec.get("nondeterministic", False)),
            max_episode_steps=spec.get("max_episode_steps"),
            kwargs=spec_kwargs,
        )
        self._remember_seed(seed)

    # --- the Gymnasium API -----------------------------------------------------

    def reset(self, *, seed=None, options=None):
        """Start a new episode on the server; returns ``(observation, info)``."""
        seed, body = self._reset_request(seed, options)
        super().reset(seed=seed)
        if self.transport == "websocket":
            answer = self._step_socket().call({"op": "reset", **body})
        else:
            answer = self._call("POST", self._path("reset/"), body)
        return decode_value(self.observation_space, answer["observation"]), answer["info"]

    def step(self, action):
        """Send ``action``; returns ``(observation, reward, terminated, truncated, info)``."""
        if self.transport == "websocket":
            answer = self._step_socket().call({"op": "step", "action": encode_value(action)})
        else:
            answer = self._call("POST", self._path("step/"), {"action": encode_value(action)})
        return (
            decode_value(self.observation_space, answer["observation"]),
            _number(answer["reward"]),
            bool(answer["terminated"]),
            bool(answer["truncated"]),
            answer["info"],
        )

    def render(self):
        """The current frame: an ``(H, W, 3)`` uint8 array in ``rgb_array`` mode, text in
        ``ansi`` mode, a list of those in the ``*_list`` modes; ``None`` without a render mode."""
        if self.render_mode is None:
            gym.logger.warn(
                "You are calling render method without specifying any render mode. Create the RemoteEnv with "
                f"render_mode= one of {self.metadata['render_modes']}."
            )
            return None
        answer = self._call("GET", self._path("monitor/render/"))
        data = answer["data"]
        if isinstance(data, list):
            return [_decode_picture(answer, item) for item in data]
        return _decode_picture(answer, data)

    def close(self):
        """Delete the instance on the server. Calling it again does nothing."""
        if self._closed or self.instance_id is None:
            return
        self._closed = True
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        try:
            self._call("DELETE", self._path(""))
        except (InstanceGone, NotFound):
            pass  # already closed, or lost in a server restart: nothing is left to free
        super().close()

    def _step_socket(self):
        if self._socket is None:
            self._socket = StepSocket(
                self.base_url, step_path(self.instance_id), api_key=self._api_key, timeout=self.timeout
            )
        return self._socket

    @property
    def closed(self):
        return self._closed

    def __repr__(self):
        return f"<RemoteEnv {self.env_id} {self.instance_id} at {self.base_url}>"

    __str__ = __repr__


def _number(value):
    if isinstance(value, str):
        return NON_FINITE[value]
    return None if value is None else float(value)


def _decode_picture(answer, data):
    if answer.get("encoding") == "base64":
        from PIL import Image

        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            return np.array(image)
    return data
