"""Pictures of live environments: the render route's bodies, and the frames
viewers see (the MJPEG stream, the WebSocket tiles of the monitor).

Rendering runs under the instance's lock (``LiveEnv.render`` and
``LiveEnv.frame`` take it), so it never races a step; encoding runs after the
lock is released, so a step waits at most for one render. A viewer's frame is
encoded once per change of the environment (``LiveEnv.version``) and shared by
every viewer; nothing is rendered for viewers unless one asks.
"""

import asyncio
import base64
import io
import logging
from dataclasses import dataclass

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings
from gymapi_client.spaces import encode_float
from PIL import Image

from .errors import ApiError, EnvError, EnvTimeout, ResetNeeded, RuntimeUnavailable
from .registry import with_list_modes
from .runtime import SINGLE
from .services.instances import ends_if_broken, instance_get

logger = logging.getLogger(__name__)

MJPEG_BOUNDARY = "frame"
# No frame shown yet: unlike any version, the None of an instance whose version only its actor knows included.
UNSEEN = object()

# Set when the server shuts down: MJPEG streams, which otherwise run until their
# instance closes, end so that the shutdown need not wait for them.
_streams_ending = False


def streams_end():
    """End every MJPEG stream at its next frame, and any stream opened from now on."""
    global _streams_ending
    _streams_ending = True


class NotRenderable(ApiError):
    """The instance has nothing to draw over HTTP, or not in the form asked for."""

    default_code = "not_renderable"


def renderable_modes(live):
    """The render modes that draw over HTTP for this instance's environment (not ``human``)."""
    modes = live.metadata.get("render_modes") or []
    return [mode for mode in with_list_modes(modes) if mode != "human"]


def check_renderable(live):
    """A 400 explaining how to get a renderable instance when this one draws nothing over HTTP."""
    if live.render_mode not in (None, "human"):
        return
    if live.render_mode is None:
        why = f"Instance {live.instance_id} was created without a render mode, so it draws nothing."
    else:
        why = f"Instance {live.instance_id} renders in 'human' mode, into a window on the server, not over HTTP."
    modes = renderable_modes(live)
    if modes:
        how = (
            f" {live.env_id} can be rendered as one of {modes}: create an instance with one of them, "
            f'e.g. POST /v1/envs/ {{"env_id": "{live.env_id}", "render_mode": "{modes[0]}"}}.'
        )
    else:
        how = f" {live.env_id} declares no render mode other than 'human'."
    raise NotRenderable(why + how)


def check_has_state(live):
    if live.episode_number == 0:
        raise ResetNeeded("Reset the environment before rendering it: it has nothing to draw until its first reset.")


# --- encoding ---------------------------------------------------------------


def _image(array):
    """An environment's frame as a PIL image: RGB(A) arrays as they are, depth or
    grey arrays scaled to 0-255."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        if array.dtype != np.uint8:
            array = np.clip(array, 0, 255).astype(np.uint8)
        return Image.fromarray(array, "RGBA" if array.shape[2] == 4 else "RGB")
    if array.ndim == 2:
        values = array.astype(np.float64)
        finite = np.isfinite(values)
        low, high = (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 0.0)
        scaled = np.zeros(values.shape) if high <= low else (np.where(finite, values, low) - low) / (high - low) * 255
        return Image.fromarray(scaled.astype(np.uint8), "L")
    raise EnvError(f"render returned an array of shape {array.shape}, which is not an image")


def encode_png(array):
    buffer = io.BytesIO()
    # Level 1: frames are large and mostly flat; a higher level costs time for little size.
    _image(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(array):
    image = _image(array)
    if image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=settings.GYMAPI_JPEG_QUALITY)
    return buffer.getvalue()


def _render_item(item):
    if isinstance(item, str):
        return "text/plain", "utf-8", item
    if item is None:
        raise EnvError("render returned nothing")
    return "image/png", "base64", base64.b64encode(encode_png(item)).decode("ascii")


def render_body(render_mode, rendered):
    """The render route's body: one picture, or a list of them for the ``*_list`` modes."""
    if render_mode.endswith("_list"):
        items = [_render_item(item) for item in rendered]
        if items:
            content_type, encoding = items[0][:2]
        elif render_mode.startswith("ansi"):
            content_type, encoding = "text/plain", "utf-8"
        else:
            content_type, encoding = "image/png", "base64"
        data = [item[2] for item in items]
    else:
        content_type, encoding, data = _render_item(rendered)
    return {"render_mode": render_mode, "content_type": content_type, "encoding": encoding, "data": data}


def env_render(*, instance_id):
    """Render an instance in its render mode; returns the render route's body.

    In the ``*_list`` modes this hands over (and Gymnasium clears) the frames
    collected since the last render or reset.
    """
    live = instance_get(instance_id, SINGLE)
    check_renderable(live)
    with live.lock, ends_if_broken(live):
        if live.remote:  # drawn and encoded in its actor
            return live.relayed("render_body")
        check_has_state(live)
        rendered = live.render()
    return render_body(live.render_mode, rendered)


# --- frames for viewers -----------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """What viewers are shown of an instance at one moment: its counters and its picture."""

    version: int
    episode: int
    step: int
    reward: float | None
    episode_return: float
    terminated: bool
    truncated: bool
    content_type: str | None = None  # "image/jpeg" with ``image``, "text/plain" with ``text``
    image: bytes | None = None
    text: str | None = None

    def event(self, instance_id):
        """The JSON event sent to watchers with this frame."""
        return {
            "type": "step",
            "instance_id": str(instance_id),
            "version": self.version,
            "episode": self.episode,
            "step": self.step,
            "reward": None if self.reward is None else encode_float(self.reward),
            "return": encode_float(self.episode_return),
            "terminated": self.terminated,
            "truncated": self.truncated,
            "frame": self.content_type if self.image is not None else None,
            "text": self.text,
        }


def draws_for_viewers(live):
    return live.render_mode not in (None, "human")


def viewer_frame(live):
    """The instance's current frame for viewers, or None once it is closed.

    Rendered (under the instance's lock) and encoded only when the instance
    changed since the last viewer frame; otherwise the cached one is returned.
    Instances that draw nothing still get frames, with counters and no picture.
    """
    cached = live.viewer_frame
    if live.remote:  # drawn and encoded in its actor, sent when it changed
        try:
            with ends_if_broken(live):  # an actor gone or hung ends its instance: no frame, as when closed
                frame = live.call("viewer_frame", None if cached is None else cached.version)
        except RuntimeUnavailable:  # the cluster's head does not answer for now: the last frame stands
            return cached
        except (ApiError, EnvTimeout):
            return None
        if frame is not None:
            live.viewer_frame = frame
        return live.viewer_frame
    if cached is not None and cached.version == live.version:
        return cached
    with live.lock:
        if live.closed or live.broken is not None:
            return None
        state = {
            "version": live.version,
            "episode": live.episode_number,
            "step": live.episode_steps,
            "reward": live.last_reward,
            "episode_return": live.episode_return,
            "terminated": live.terminated,
            "truncated": live.truncated,
        }
        picture = None
        if draws_for_viewers(live) and live.episode_number > 0:
            try:
                with ends_if_broken(live):  # a frame that hangs breaks it (GYMAPI_CALL_TIMEOUT)
                    picture = live.frame()
            except (EnvError, EnvTimeout) as error:
                logger.warning("Could not draw %s for viewers: %s", live.instance_id, error)
            # The environment may draw into the same buffer on its next step.
            if isinstance(picture, np.ndarray):
                picture = picture.copy()
    if isinstance(picture, str):
        frame = Frame(**state, content_type="text/plain", text=picture)
    elif picture is not None:
        try:
            frame = Frame(**state, content_type="image/jpeg", image=encode_jpeg(picture))
        except EnvError as error:
            logger.warning("Could not encode a frame of %s: %s", live.instance_id, error)
            frame = Frame(**state)
    else:
        frame = Frame(**state)
    live.viewer_frame = frame
    return frame


def check_streamable(live):
    """A 400 unless the instance draws pictures (the MJPEG stream carries images only)."""
    check_renderable(live)
    if live.render_mode.startswith("ansi"):
        raise NotRenderable(
            f"Instance {live.instance_id} renders as text ({live.render_mode}); the stream carries images. "
            "Use GET .../monitor/render/ or the WebSocket ws/envs/{id}/ for text."
        )


def stream_open(*, instance_id):
    """The live instance to stream, or the 4xx saying why it cannot be streamed."""
    live = instance_get(instance_id, SINGLE)
    check_streamable(live)
    return live


async def mjpeg_stream(live):
    """``multipart/x-mixed-replace`` parts of JPEG frames until the instance closes.

    Looks for a change at most ``GYMAPI_STREAM_FPS`` times a second and encodes
    a frame only when there is one. The step path never waits for a viewer:
    a slow reader only delays this generator.
    """
    interval = 1.0 / settings.GYMAPI_STREAM_FPS
    boundary = MJPEG_BOUNDARY.encode()
    shown = UNSEEN
    while not live.closed and not _streams_ending:
        if live.version != shown:
            frame = await sync_to_async(viewer_frame, thread_sensitive=False)(live)
            if frame is not None and frame.image is not None and frame.version != shown:
                shown = frame.version
                yield (
                    b"--" + boundary + b"\r\nContent-Type: image/jpeg\r\n"
                    + f"Content-Length: {len(frame.image)}\r\n\r\n".encode()
                    + frame.image
                    + b"\r\n"
                )
        await asyncio.sleep(interval)
    yield b"--" + boundary + b"--\r\n"
