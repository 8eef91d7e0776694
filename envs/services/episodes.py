"""Episodes: reset and step, single and vector; an action sampled; a value tested for membership.

``reset`` and ``step`` are the hot operations (http/dispatch.py runs them, in a
thread or on the event loop). They are called with the instance's lock held,
touch no database and return ``(body, rows)``: the answer's body and the
episode rows to write before it goes out (recording/episodes.py decides which).

Values go through the codec (``gymapi_client.spaces``). A vector action is a list of
``num_envs`` actions, one per sub-environment, each a member of the single
action space, decoded and checked before the environment sees any of it;
observations, rewards and infos come back batched as Gymnasium batches them.
"""

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import concatenate, create_empty_array, iterate
from gymapi_client.spaces import DecodeError, decode_checked, encode_any, short_repr, summarize_space

from .. import events, limits
from ..errors import ApiError, InstanceGone, InvalidInput
from ..models import InstanceStatus
from ..recording import episodes as recording
from ..runtime import VECTOR
from .instances import ends_if_broken, instance_get

# Single spaces whose batch is one numpy array: an action list is decoded
# against the batched space in one go, the step path's common case.
ARRAY_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def reset(live, *, seed=None, options=None, encode=encode_any):
    """Start a new episode (every sub-environment's, for a vector instance); returns
    ``(body, rows)``: ``{"observation", "info"}`` and the rows of the episodes it interrupted."""
    if live.kind == VECTOR:
        if options and "reset_mask" in options:
            raise InvalidInput("options.reset_mask", "partial resets are not served: a reset resets every sub-environment.")
        _check_open(live)
        limits.check_vector_seed(seed, live.num_envs)
        observation, info = live.reset(seed=seed, options=options)
        rows = recording.vector_taken(live)
    else:
        steps, total = live.episode_steps, live.episode_return
        if live.episode_number and not live.episode_over:
            events.episode_finished(live)  # interrupted by this reset
        observation, info = live.reset(seed=seed, options=options)
        rows = recording.started(live, interrupted_steps=steps, interrupted_return=total)
    return {"observation": encode(observation), "info": encode(info)}, rows


def step(live, *, action, encode=encode_any):
    """Decode ``action``, take one step; returns ``(body, rows)``."""
    if live.kind == VECTOR:
        _check_open(live)
        observation, reward, terminated, truncated, info = live.step(vector_action_decode(live, action))
        body = {
            "observation": encode(observation),
            "reward": encode(reward),
            "terminated": terminated.tolist(),
            "truncated": truncated.tolist(),
            "info": encode(info),
            "done": (terminated | truncated).tolist(),
        }
        return body, recording.vector_stepped(live)
    observation, reward, terminated, truncated, info = live.step(action_decode(live, action))
    rows = recording.stepped(live)
    if terminated or truncated:
        events.episode_finished(live)
    body = {
        "observation": encode(observation),
        "reward": encode(reward),
        "terminated": terminated,
        "truncated": truncated,
        "info": encode(info),
        "done": terminated or truncated,
    }
    return body, rows


def _check_open(live):
    if live.closed:  # closed by a concurrent request since it was looked up
        raise InstanceGone(live.instance_id, InstanceStatus.CLOSED)


def action_decode(live, action):
    """The JSON action as a member of the action space, or a 400 naming the space."""
    try:
        return decode_checked(live.action_space, action, "action")
    except DecodeError as error:
        message = error.message
        expected = summarize_space(live.action_space)
        if expected not in message:  # the client needs the space to fix its action
            message = f"{message}; the action space is {expected}"
        raise InvalidInput(error.path, message, code="invalid_action") from None


def vector_action_decode(live, action):
    """A list of ``num_envs`` JSON actions as a member of the batched action space,
    or a 400 naming the sub-environment and the space its action must be in."""
    single, count = live.single_action_space, live.num_envs
    if not isinstance(action, list) or len(action) != count:
        raise InvalidInput(
            "action",
            f"expected a list of {count} actions, one per sub-environment, each in {summarize_space(single)}; "
            f"got {short_repr(action)}",
            code="invalid_action",
        )
    if isinstance(single, spaces.Discrete) and all(type(item) is int for item in action):
        # The step path's common case, in one numpy call: plain integers (no
        # bools, no 1.0s, which the codec reads too) for a Discrete space.
        try:
            batch = np.array(action, dtype=live.action_space.dtype)
        except OverflowError:
            batch = None
        if batch is not None and live.action_space.contains(batch):
            return batch
    if isinstance(single, ARRAY_SPACES):
        try:
            return decode_checked(live.action_space, action, "action")
        except DecodeError:
            pass  # decoded one by one below, to say which one is wrong
    items = []
    for index, item in enumerate(action):
        try:
            items.append(decode_checked(single, item, f"action[{index}]"))
        except DecodeError as error:
            message = error.message
            expected = summarize_space(single)
            if expected not in message:
                message = f"{message}; each sub-environment's action is in {expected}"
            raise InvalidInput(error.path, message, code="invalid_action") from None
    return concatenate(single, items, create_empty_array(single, count))


def action_sample(*, instance_id, kind, encode=encode_any):
    """A random action from the instance's action space (seeded by the creation seed);
    one per sub-environment, as a list, for a vector instance."""
    live = instance_get(instance_id, kind)
    with ends_if_broken(live):
        sample = live.sample_action()
    if kind == VECTOR:
        return [encode(item) for item in iterate(live.action_space, sample)]
    return encode(sample)


def space_of(live, which):
    if which == "action_space":
        return live.action_space
    if which == "observation_space":
        return live.observation_space
    raise ApiError(f"Unknown space {which!r}.")


def space_contains(*, instance_id, kind, which, x):
    """Whether the JSON value ``x`` is a member of the instance's action or observation space."""
    live = instance_get(instance_id, kind)
    try:
        decode_checked(space_of(live, which), x, "x")
    except DecodeError:
        return False
    return True
