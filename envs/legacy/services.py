"""Legacy mode's translation over envs.services and envs.selectors.

Shapes follow openai/gym-http-api: spaces as ``{"name", "n"}`` or ``{"name",
"shape", "low", "high"}`` with flat bounds, membership by property, and a
monitor that records episodes as video into a folder the client names.
"""

import json
import logging
import os
import re
import signal
import uuid
from pathlib import Path

import gymnasium as gym
from django.conf import settings
from gymnasium.envs.registration import find_highest_version, get_env_id, parse_env_id
from gymnasium.utils.save_video import capped_cubic_video_schedule

from .. import registry, selectors
from ..errors import ApiError
from ..runtime import SINGLE
from ..services.episodes import space_contains
from ..services.instances import instance_create, instance_get
from ..services.lifecycle import instances_close_all

logger = logging.getLogger(__name__)

# Instances are created rendering RGB frames when their environment can, so
# that a monitor can record them at any time, as the older server could.
RENDER_MODE = "rgb_array"
VIDEO_RENDER_MODES = ("rgb_array", "rgb_array_list")

# The older server wrote infinite bounds as +-1e100: a number every JSON reader
# takes (Go's and Rust's clients read bounds as float64 lists).
INFINITY = 1e100
NON_FINITE = {"Infinity": INFINITY, "-Infinity": -INFINITY}

# Monitor files start with the older monitor's prefix: "force" clears the files
# that carry it, as it did.
FILE_PREFIX = "openaigym."
FOLDER_PART = re.compile(r"[^A-Za-z0-9._-]")
FILE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
MAX_FOLDER_LENGTH = 200


class MonitorError(ApiError):
    default_code = "monitor"


class ShutdownDisabled(ApiError):
    status_code = 403
    default_code = "shutdown_disabled"
    default_detail = "Shutting the server down is disabled here (GYMAPI_ALLOW_SHUTDOWN is off)."


# --- instances ----------------------------------------------------------------


def current_id(env_id):
    """The id to create for ``env_id``: itself when registered, else the highest version of the
    same name when one is (the older clients' tests and examples ask for ids Gymnasium retired:
    ``FrozenLake-v0`` is ``FrozenLake-v1`` now, ``LunarLander-v2`` ``LunarLander-v3``)."""
    if env_id in gym.registry:
        return env_id
    try:
        namespace, name, version = parse_env_id(env_id)
    except gym.error.Error:
        return env_id
    highest = find_highest_version(namespace, name)
    if version is None or highest is None or highest <= version:
        return env_id
    return get_env_id(namespace, name, highest)


def env_create(*, env_id, render_mode=None, **fields):
    """``instance_create`` of a single instance, rendering RGB frames when the environment can,
    a retired id served as its current version (``current_id``)."""
    current = current_id(env_id)
    if current != env_id:
        logger.warning("%s is retired in Gymnasium: serving %s (its current version) instead.", env_id, current)
        env_id = current
    if render_mode is None:
        registry.resolve_env_id(env_id)  # before its render modes are looked up
        if RENDER_MODE in (registry.render_modes_of(env_id) or ()):
            render_mode = RENDER_MODE
    return instance_create(kind=SINGLE, env_id=env_id, render_mode=render_mode, **fields)


def server_shutdown():
    """Close every live instance (their episodes and videos are written), then
    stop this server process."""
    instances_close_all()
    logger.warning("Shutting down: asked through POST /v1/shutdown/.")
    stop_process()


def stop_process():
    """Ask this process to stop as a service manager would: uvicorn finishes
    the requests in flight (the shutdown's own answer included), then exits."""
    os.kill(os.getpid(), signal.SIGTERM)


# --- spaces -------------------------------------------------------------------


def space_info(*, instance_id, which):
    """The space as the older API described it (``selectors.space_describe``, reshaped)."""
    return legacy_info(selectors.space_describe(instance_id=instance_id, which=which))


def legacy_info(description):
    """A space description with Box bounds flat and finite; nested spaces too."""
    info = dict(description)
    if info.get("name") == "Box":
        info["low"] = _flat_bounds(info["low"])
        info["high"] = _flat_bounds(info["high"])
    subspaces = info.get("spaces")
    if isinstance(subspaces, list):
        info["spaces"] = [legacy_info(space) for space in subspaces]
    elif isinstance(subspaces, dict):
        info["spaces"] = {key: legacy_info(space) for key, space in subspaces.items()}
    for key in ("feature_space", "node_space", "edge_space"):
        if isinstance(info.get(key), dict):
            info[key] = legacy_info(info[key])
    return info


def _flat_bounds(value):
    if isinstance(value, list):
        return [item for part in value for item in _flat_bounds(part)]
    return [NON_FINITE.get(value, value) if isinstance(value, str) else value]


def action_contains(*, instance_id, x):
    """Membership of ``x`` as it came in the path: JSON when it reads as JSON
    (``1``, ``[0.5]``), else the string itself (a Text space's value)."""
    try:
        value = json.loads(x)
    except ValueError:
        value = x
    return space_contains(instance_id=instance_id, kind=SINGLE, which="action_space", x=value)


def observation_space_contains(*, instance_id, properties):
    """Whether each given property equals the observation space's own (as in
    ``space_info``): ``{"name": "Box", "shape": [4]}`` for CartPole is true."""
    if not isinstance(properties, dict):
        raise ApiError("Expected a JSON object of space properties, such as {\"name\": \"Box\", \"shape\": [4]}.")
    info = space_info(instance_id=instance_id, which="observation_space")
    return all(key in info and info[key] == value for key, value in properties.items())


# --- the monitor ----------------------------------------------------------------


def monitor_root(owner_id):
    """The folder holding the monitor folders of the instances of ``owner_id``:
    ``MEDIA_ROOT/monitor/keys/<key id>`` for a key, ``MEDIA_ROOT/monitor/anyone``
    for instances created with keys off (owner None).

    Clients name their folders, and two keys may well name the same one: each
    key's names are looked up under its own root, so that no key lists,
    downloads, resumes or clears another's videos, nor learns that they exist.
    """
    base = Path(settings.MEDIA_ROOT) / "monitor"
    return (base / "anyone" if owner_id is None else base / "keys" / str(int(owner_id))).resolve()


def monitor_folder(directory, owner_id):
    """The folder under ``owner_id``'s monitor root for a client's ``directory``, and its name there.

    Clients name folders on their own machine ("/tmp/cartpole-1", "tmp"); the
    name is kept but sanitized so that no folder leaves the root: separators
    split it, ".", ".." and leading dots are dropped, characters other than
    letters, digits, "-", "_" and "." become "_".
    """
    if not isinstance(directory, str) or not directory.strip():
        raise MonitorError("A required request parameter 'directory' was not provided.")
    parts = [FOLDER_PART.sub("_", part).lstrip(".") for part in re.split(r"[\\/]+", directory)]
    parts = [part for part in parts if part]
    name = "/".join(parts)
    if not name:
        raise MonitorError(f"directory {directory!r} names no folder: give a name such as 'cartpole-1'.")
    if len(name) > MAX_FOLDER_LENGTH:
        raise MonitorError(f"directory is longer than {MAX_FOLDER_LENGTH} characters.")
    root = monitor_root(owner_id)
    folder = root.joinpath(*parts).resolve()
    if not folder.is_relative_to(root) or folder == root:  # a link inside the root pointing out
        raise MonitorError(f"directory {directory!r} leads outside the monitor root.")
    return folder, name


def video_trigger(video_callable):
    """The older API's ``video_callable`` as ``RecordVideo``'s ``episode_trigger``.

    ``true``: every episode; an integer N: every N-th (0, N, 2N, ...); ``false``
    or absent: Gymnasium's default schedule (episodes 0, 1, 8, 27, ... 1000,
    then every 1000th).
    """
    if video_callable is None or video_callable is False:
        return capped_cubic_video_schedule
    if video_callable is True:
        return lambda episode: True
    if isinstance(video_callable, int) and video_callable >= 1:
        return lambda episode: episode % video_callable == 0
    raise MonitorError("video_callable must be true, false or a positive integer (record every N-th episode).")


def monitor_start(*, instance_id, directory, force=False, resume=False, video_callable=False):
    """Record the instance's episodes (from its next reset) into ``directory`` under its owner's monitor root.

    As the older monitor: a folder that already holds monitor files is cleared
    with ``force``, kept with ``resume``, and refused otherwise.
    """
    live = instance_get(instance_id, SINGLE)
    folder, name = monitor_folder(directory, live.owner_id)
    trigger = video_trigger(video_callable)
    for field, value in (("force", force), ("resume", resume)):
        if value is not None and not isinstance(value, bool):
            raise MonitorError(f"{field} must be true or false.")
    if live.render_mode not in VIDEO_RENDER_MODES:
        raise MonitorError(
            f"{live.env_id} cannot be recorded as video: it was created with render mode {live.render_mode!r}, "
            f"and recording needs one of {list(VIDEO_RENDER_MODES)}."
        )
    with live.lock:  # one monitor at a time per instance; the folder checked and cleared under it
        if live.recording_video:
            raise MonitorError(f"A monitor is already recording instance {live.instance_id}: close it first.")
        existing = sorted(folder.glob(f"{FILE_PREFIX}*")) if folder.is_dir() else []
        if existing and not (force or resume):
            raise MonitorError(
                f"Trying to write to monitor directory {name} with existing monitor files: "
                "pass force to clear them or resume to keep them."
            )
        if force:
            for path in existing:
                if path.is_file():
                    path.unlink()
        # A prefix of its own per start: a resumed folder never has a file overwritten.
        live.record_video(folder, episode_trigger=trigger, name_prefix=f"{FILE_PREFIX}video.{uuid.uuid4().hex[:8]}")
    logger.info("Monitor of %s records into %s", live.instance_id, folder)


def monitor_close(*, instance_id):
    """Finish the instance's monitor: the video being recorded is written. Closing none is not an error."""
    instance_get(instance_id, SINGLE).stop_video()


def monitor_files(*, instance_id):
    """The files in the folder of the instance's last monitor."""
    live = instance_get(instance_id, SINGLE)
    folder = _monitor_folder_of(live)
    files = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and FILE_NAME.match(path.name):
                files.append(
                    {
                        "name": path.name,
                        "size": path.stat().st_size,
                        "url": f"/v1/envs/{live.instance_id}/monitor/files/{path.name}",
                    }
                )
    return {
        "directory": folder.relative_to(monitor_root(live.owner_id)).as_posix(),
        "recording": live.recording_video,
        "files": files,
    }


def monitor_file(*, instance_id, name):
    """The path of one file of the instance's monitor folder, for downloading."""
    live = instance_get(instance_id, SINGLE)
    folder = _monitor_folder_of(live)
    path = folder / name
    if not FILE_NAME.match(name) or not path.is_file() or path.resolve().parent != folder.resolve():
        raise MonitorError(f"No file {name!r} in the monitor directory of instance {live.instance_id}.")
    return path


def _monitor_folder_of(live):
    if live.video_folder is None:
        raise MonitorError(f"No monitor was started on instance {live.instance_id}: POST monitor/start/ first.")
    return Path(live.video_folder)
