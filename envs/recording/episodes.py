"""What is written of episodes, and when.

Every episode is counted in memory on each step and written to the database
as one ``EpisodeRow``:

- a single instance's episode when it ends (terminated, truncated, or
  interrupted by a reset or the close), which for most episodes is its only
  write, and while it runs at most every ``GYMAPI_FLUSH_SECONDS``;
- a vector instance's ended episodes together, when ``VECTOR_FLUSH_EPISODES``
  of them have gathered or the last write is ``GYMAPI_FLUSH_SECONDS`` old, and
  always at a reset, a close and before its episodes are listed. A running
  vector episode has no row.

An episode interrupted before its first step is not written, but for an
instance's first (below): a client that resets in a loop must not fill the
database with empty rows.

With an instance's ``record_actions`` (the default), each row also carries what
replays the episode (README, Episodes): its reset's options, the generator's
state before an unseeded reset, and its actions so far, encoded here (each
write of a running episode carries the actions up to then, so that its row
alone can rebuild it). A row says why its episode cannot be replayed when
that is known as it runs (a vector entry point's sub-environment).

Rows are written as upserts on (instance, sub_env, number), a row already
ended left alone, so writing one twice, or an older one after a newer,
changes nothing.

For restarts (README, Restarts; services/resume.py) a single instance's
rows also say whether they cover every answer its client was given
(``resumable``). ``checkpoint`` writes that row for an instance at rest; the
next reset or step after it writes a row that says it no longer does
(``live.covered``), before its answer goes out: the episode's own row, or at
an instance's first reset, the new episode's (its only row written before a
step). An instance that keeps stepping pays nothing more than the writes
above; one that rests pays one write when it rests and one when it starts
again.

Each function below is called with the instance's lock held, so the counters
it reads belong to one moment of the episode; it touches no database and
returns the rows to write (a list, often empty) before the answer goes out.
"""

import time
from datetime import datetime, timezone
from typing import NamedTuple

from ..actions import encode_actions
from ..conf import hot
from ..models import Episode
from ..runtime.generators import unpacked

# Ended vector episodes gathered before they are written together.
VECTOR_FLUSH_EPISODES = 1024


class EpisodeRow(NamedTuple):
    """One episode as the database holds it (``Episode``); times are ``time.time()`` seconds."""

    instance_id: str
    sub_env: int
    number: int
    seed: int | None
    started: float
    ended: float | None  # None while it runs
    steps: int
    total_reward: float
    terminated: bool
    truncated: bool
    options: dict | None = None
    generator: dict | None = None  # the generator's state before an unseeded reset
    actions: bytes | None = None  # encoded (envs/actions.py); None when not recorded
    unreplayable: str = ""
    resumable: bool = False  # nothing was answered past it: the instance can be rebuilt from it


class EpisodeRecord:
    """The database side of a single instance's current episode."""

    __slots__ = ("number", "seed", "options", "generator", "actions", "started", "last_flush", "finished", "ended",
                 "terminated", "truncated", "written")

    def __init__(self, number, seed, options=None, generator=None, actions=None):
        self.number = number
        self.seed = seed
        self.options = options
        self.generator = generator
        self.actions = actions  # the live list the instance appends each step's action to
        self.started = time.time()
        self.last_flush = time.monotonic()
        self.finished = False
        self.ended = None  # time.time() of its end, once written ended, and how it ended
        self.terminated = self.truncated = False
        self.written = False  # a row of it is in the database


def _row(live, record, *, ended, terminated=False, truncated=False, steps=None, total=None, resumable=False):
    record.last_flush = time.monotonic()
    record.written = True
    live.covered = resumable
    if ended and not record.finished:
        record.finished, record.ended, record.terminated, record.truncated = True, time.time(), terminated, truncated
    actions = None if record.actions is None else encode_actions(live.action_space, record.actions)
    return EpisodeRow(
        live.instance_id, 0, record.number, record.seed, record.started, record.ended if ended else None,
        live.episode_steps if steps is None else steps, live.episode_return if total is None else total,
        terminated, truncated, record.options, unpacked(record.generator), actions, resumable=resumable,
    )


def started(live, *, interrupted_steps, interrupted_return):
    """A reset began a new episode: the end of the one it interrupted, if it had steps, is to
    be written; the new one is remembered. The reset has already zeroed the live counters,
    so the caller passes the interrupted episode's last counts."""
    if not hot.GYMAPI_RECORD:
        return []
    previous, rows = live.record, []
    if previous is not None and not previous.finished and (interrupted_steps or previous.written):
        rows.append(_row(live, previous, ended=True, steps=interrupted_steps, total=interrupted_return))
    elif previous is not None and live.covered:  # its end again, now not covering this reset's answer
        rows.append(_row(live, previous, ended=True, terminated=previous.terminated, truncated=previous.truncated,
                         steps=interrupted_steps, total=interrupted_return))
    live.record = EpisodeRecord(
        live.episode_number, live.episode_seed, live.episode_options, live.episode_generator,
        live.episode_actions,
    )
    if live.covered:  # its first episode: no row says yet that a reset was answered
        rows.append(_row(live, live.record, ended=False))
    return rows


def stepped(live):
    """After each step: the row at the episode's end, or when the last write is old."""
    record = live.record
    if record is None:
        return []
    if live.episode_over:
        return [_row(live, record, ended=True, terminated=live.terminated, truncated=live.truncated)]
    if live.covered or time.monotonic() - record.last_flush >= hot.GYMAPI_FLUSH_SECONDS:
        return [_row(live, record, ended=False)]
    return []


def closed(live):
    """The instance is closing: the current episode, if it has steps (or a row), ends as interrupted."""
    record = live.record
    if record is None or record.finished or not (live.episode_steps or record.written):
        return []
    return [_row(live, record, ended=True)]


def checkpoint(live):
    """The rows that make the database cover every answer ``live`` gave (none when it
    already does): its current episode as it stands, ended or not, marked resumable.
    The caller writes them before the instance is used again."""
    record = live.record
    if live.covered or record is None:
        return []
    if record.finished:  # the same end again, marked resumable (the upsert lets only that through)
        return [_row(live, record, ended=True, terminated=live.terminated, truncated=live.truncated, resumable=True)]
    return [_row(live, record, ended=False, resumable=True)]


def running_episode(instance_id, state):
    """The running episode of a single instance as a row would show it (an unsaved
    ``Episode``), from its ``snapshot()``; or None."""
    if state["record"] is None:
        return None
    number, seed, started = state["record"]
    return Episode(
        instance_id=instance_id, number=number, seed=seed, started_at=datetime.fromtimestamp(started, tz=timezone.utc),
        steps=state["steps"], total_reward=state["return"],
    )


def vector_stepped(live):
    """After a vector step that ended episodes: their rows when enough have gathered or
    the last write is old, else none yet."""
    if not live.finished:
        return []
    if not hot.GYMAPI_RECORD:
        live.finished.clear()
        return []
    if (
        len(live.finished) >= VECTOR_FLUSH_EPISODES
        or time.monotonic() - live.flushed_at >= hot.GYMAPI_FLUSH_SECONDS
    ):
        return vector_taken(live)
    return []


def vector_taken(live, finished=None):
    """The rows of every episode ``live`` ended since the last write (or of ``finished``,
    episodes already taken from it), now: at a reset, a close, before a listing."""
    live.flushed_at = time.monotonic()
    finished = live.take_finished() if finished is None else finished
    if not hot.GYMAPI_RECORD:
        return []
    space = live.single_action_space
    return [
        EpisodeRow(
            live.instance_id, *episode[:9], episode.options, unpacked(episode.generator),
            None if episode.actions is None else encode_actions(space, episode.actions), episode.unreplayable,
        )
        for episode in finished
        if episode.steps or episode.terminated or episode.truncated
    ]


def vector_suspended(live):
    """A vector instance is suspended (services/resume.py): the rows of the episodes it ended
    since the last write and of every running one as it stands (even with no step), each
    with its actions so far: what its next server rebuilds it from."""
    rows = vector_taken(live)
    if live.needs_reset or not live.record_actions:
        return rows
    space = live.single_action_space
    for i, running in enumerate(live.running_episodes()):
        if running["ended"]:  # ended in the last step: its row is among those above, or written before
            continue
        rows.append(EpisodeRow(
            live.instance_id, i, running["number"], live.episode_seeds[i], live.episode_started[i], None,
            running["steps"], running["return"], False, False, live.episode_options[i], unpacked(live.episode_generators[i]),
            encode_actions(space, live.actions_of(i, running["steps"], live.steps - 1)),
        ))
    return rows
