"""Driving instances as the transports do, for tests that call below the HTTP layer:
created through the services, reset and stepped through the table of operations."""

import socket
import subprocess

from envs.http import dispatch
from envs.runtime import SINGLE, VECTOR
from envs.services.instances import instance_close, instance_create


def create(env_id="CartPole-v1", **fields):
    """A new single instance's id."""
    return str(instance_create(kind=SINGLE, env_id=env_id, **fields).id)


def create_vector(env_id="CartPole-v1", num_envs=2, **fields):
    """A new vector instance's id."""
    return str(instance_create(kind=VECTOR, env_id=env_id, num_envs=num_envs, **fields).id)


def reset(instance_id, operation=dispatch.RESET, **fields):
    """The reset's body, as a thread of a transport gets it (its error raised)."""
    return dispatch.call(operation, instance_id, fields).result()


def step(instance_id, action, operation=dispatch.STEP):
    """The step's body, as a thread of a transport gets it (its error raised)."""
    return dispatch.call(operation, instance_id, {"action": action}).result()


def step_on_loop(instance_id, action, operation=dispatch.STEP):
    """The step's ``dispatch.Outcome`` on the event loop, or None where it goes to a thread."""
    return dispatch.call_on_loop(operation, instance_id, {"action": action})


def close(instance_id, kind=SINGLE):
    instance_close(instance_id=instance_id, kind=kind)



def ended_process():
    """The identity (``processes.identity()``'s form) of a process of this host that has ended:
    the server process of an instance that was left behind."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:1"
