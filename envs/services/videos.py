"""Videos of recorded episodes: the episode replayed in ``rgb_array`` mode, one frame per
state (its reset's included), encoded by the ffmpeg that imageio-ffmpeg ships.

Each video is made once and kept under ``MEDIA_ROOT/episodes/`` by episode id:
an ended episode never changes. Those kept take at most ``GYMAPI_MAX_VIDEO_MB``:
each video written evicts the oldest written until they fit (the new one is
kept, whatever its size), and an evicted video is made again when asked for.
Frames go to ffmpeg as they are drawn, so a long episode never sits in memory.
The render (the environment built, replayed and drawn, ffmpeg's encoding) runs
in a worker thread that takes one of the replays' slots (replay.py,
``bounded``: ``GYMAPI_MAX_REPLAYS``, ``GYMAPI_REPLAY_TIMEOUT``). Two requests
for the same video render it once: the second waits for the first and is
answered from the file it made.
"""

import contextlib
import os
import threading
import uuid
from pathlib import Path

from django.conf import settings

from ..errors import NotReplayable
from .replay import bounded, episode_get, replay_checked

FORMATS = {"mp4": "video/mp4", "gif": "image/gif"}
# A GIF's frames at most this wide: its palette is worked out over every frame, slow at full size.
GIF_WIDTH = 300


class _Renders:
    """A lock per video being made, dropped when nobody holds or waits for it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._held = {}  # key -> [lock, holders and waiters]

    @contextlib.contextmanager
    def holding(self, key):
        with self._lock:
            entry = self._held.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._lock:
                entry[1] -= 1
                if not entry[1]:
                    del self._held[key]


renders = _Renders()


# Eviction lists and removes the kept videos one writer at a time.
evicting = threading.Lock()


def video_path(episode_id, fmt):
    """Where the video of episode ``episode_id`` as ``fmt`` is kept."""
    return Path(settings.MEDIA_ROOT) / "episodes" / f"{episode_id}.{fmt}"


def episode_video(*, episode_id, caller, fmt):
    """The video of an ended episode as ``fmt`` (``mp4`` or ``gif``): ``(file open for
    reading, content type)``, made first if it is not kept."""
    episode = episode_get(episode_id=episode_id, caller=caller)
    if episode.ended_at is None:
        raise NotReplayable(
            f"Episode {episode.pk} is still running: its video is made once it has ended.", code="episode_running"
        )
    path = video_path(episode.pk, fmt)
    # Opened rather than checked for: an open file is read whole even if another render evicts it meanwhile.
    # Made again when it was evicted between its render and this open (only under a cap a few videos fill).
    while True:
        try:
            return path.open("rb"), FORMATS[fmt]
        except FileNotFoundError:
            pass
        with renders.holding((episode.pk, fmt)):
            if not path.exists():  # else the request we waited for has made it
                bounded(lambda: _render(episode, path, fmt), what=f"The {fmt} video of episode {episode.pk}")


def evict(keep):
    """Remove the oldest kept videos (by when they were written) until those left take
    at most ``GYMAPI_MAX_VIDEO_MB``; ``keep``, the one just written, stays."""
    cap = settings.GYMAPI_MAX_VIDEO_MB * 2**20
    if not cap:
        return
    with evicting:
        kept = []
        for path in keep.parent.iterdir():
            if path.name.startswith(".") or path.suffix[1:] not in FORMATS:  # renders under way, stray files
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            kept.append((stat.st_mtime, path.name, stat.st_size, path))
        total = sum(size for _, _, size, _ in kept)
        for _, _, size, path in sorted(kept):
            if total <= cap:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size


def _render(episode, path, fmt):
    import imageio_ffmpeg  # the encoder is loaded by the first video, not by every server

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{uuid.uuid4().hex}.{path.name}")
    writer = None

    def frame(env, *ignored):
        nonlocal writer
        try:
            picture = env.render()
            if writer is None:
                writer = _writer(imageio_ffmpeg, partial, picture, env.metadata.get("render_fps"), fmt)
            writer.send(picture)
        except Exception as error:  # no rgb_array frames, or frames ffmpeg refused
            raise _unrenderable(episode, error) from error

    try:
        try:
            replay_checked(episode, render_mode="rgb_array", on_reset=frame, on_step=frame)
        finally:
            if writer is not None:
                try:
                    writer.close()
                except Exception as error:  # ffmpeg failed at the end
                    raise _unrenderable(episode, error) from error
        os.replace(partial, path)  # whole or not at all: a reader never sees half a file
    finally:
        partial.unlink(missing_ok=True)
    evict(keep=path)


def _unrenderable(episode, error):
    return NotReplayable(
        f"Episode {episode.pk}'s video could not be made: {type(error).__name__}: {error}", code="not_renderable"
    )


def _writer(imageio_ffmpeg, path, picture, fps, fmt):
    if getattr(picture, "ndim", 0) != 3:
        raise ValueError(f"rgb_array frames are arrays of height x width x 3, not {type(picture).__name__}")
    height, width = picture.shape[:2]
    options = {"fps": float(fps or 30), "macro_block_size": 2, "ffmpeg_log_level": "error"}
    if fmt == "mp4":
        # H.264 in yuv420p, its index first (+faststart): what a browser's <video> plays as it loads.
        options.update(codec="libx264", pix_fmt_out="yuv420p", output_params=["-f", "mp4", "-movflags", "+faststart"])
    else:
        scale = f"scale='min({GIF_WIDTH},iw)':-2"
        options.update(
            codec="gif", pix_fmt_out="rgb8", quality=None,
            output_params=["-f", "gif", "-vf", f"{scale},split[a][b];[a]palettegen[p];[b][p]paletteuse"],
        )
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), **options)
    writer.send(None)  # starts ffmpeg
    return writer
