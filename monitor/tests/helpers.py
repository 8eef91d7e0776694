"""Small helpers for the monitor's tests: services called from async tests, frames decoded."""

import io

from channels.db import database_sync_to_async
from PIL import Image

from envs.http import dispatch
from envs.runtime import SINGLE
from envs.services.instances import instance_close, instance_create


@database_sync_to_async
def create(**fields):
    return instance_create(kind=SINGLE, **fields)


@database_sync_to_async
def reset(*, instance_id, **fields):
    return dispatch.call(dispatch.RESET, str(instance_id), fields).result()


@database_sync_to_async
def step(*, instance_id, action):
    return dispatch.call(dispatch.STEP, str(instance_id), {"action": action}).result()


@database_sync_to_async
def close(*, instance_id):
    instance_close(instance_id=instance_id, kind=SINGLE)


async def new_instance(env_id="CartPole-v1", render_mode="rgb_array", *, reset_seed=1):
    """Create an instance and, unless ``reset_seed`` is False, reset it; returns its id (str)."""
    instance = await create(env_id=env_id, render_mode=render_mode)
    if reset_seed is not False:
        await reset(instance_id=instance.id, seed=reset_seed)
    return str(instance.id)


def lock_held(lock):
    """Whether ``lock`` (an instance's RLock) is held: by this thread, or by the caller
    of a call the runtime handed to one of its call threads (GYMAPI_CALL_TIMEOUT)."""
    if lock._is_owned():
        return True
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True


def image_of(data, expected_format):
    image = Image.open(io.BytesIO(data))
    assert image.format == expected_format
    return image
