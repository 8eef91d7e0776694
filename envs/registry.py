"""What this server can create: Gymnasium's registry, checked and described.

Only registered ids are created. Gymnasium also accepts ``module:Name`` ids,
which import arbitrary code; those are refused here before Gymnasium sees them.
"""

import difflib
import functools
import importlib
import inspect
import logging
import math

import gymnasium as gym
from django.conf import settings
from gymnasium.envs.registration import load_env_creator
from gymapi_client.spaces import encode_any

from .errors import InvalidInput

logger = logging.getLogger(__name__)

# Packages that register extra namespaces when imported (gym.register_envs).
PLUGIN_PACKAGES = ("ale_py", "minigrid")

# gym.make's own keywords: clients set these through the request's own fields,
# or not at all.
RESERVED_KWARGS = {
    "render_mode": "use the top-level field render_mode",
    "max_episode_steps": "use the top-level field max_episode_steps",
    "disable_env_checker": "not settable",
    "autoreset": "not settable",
    "apply_api_compatibility": "not settable",
}

# Keyword names that point an environment at files on the server (MuJoCo's
# xml_file, for one). Reading server paths chosen by clients is refused.
FILE_KWARG_WORDS = ("file", "path", "dir", "folder")

ALL_RENDER_MODES = ("rgb_array", "rgb_array_list", "ansi", "ansi_list", "depth_array", "depth_array_list")

# "human" draws in a window on the server: nobody sees it, each step waits for
# the window's frame rate, and MuJoCo's (glfw, with no display) aborts the whole
# process at the first reset. No environment is created with it, and it is left
# out of every list of render modes this server gives.
WINDOW_MODE = "human"


def register_namespaces():
    """Import the environment packages that register namespaces (ALE/, MiniGrid-...), and
    those of ``GYMAPI_ENV_PACKAGES``."""
    for name in (*PLUGIN_PACKAGES, *settings.GYMAPI_ENV_PACKAGES):
        try:
            module = importlib.import_module(name)
        except ImportError:
            logger.warning("Environment package %s is not installed; its environments are unavailable.", name)
            continue
        gym.register_envs(module)


@functools.lru_cache(maxsize=None)
def _creator(env_id):
    spec = gym.registry[env_id]
    if callable(spec.entry_point):
        return spec.entry_point
    return load_env_creator(spec.entry_point)


def creator_of(env_id):
    """The class or function that builds ``env_id``, or None if it cannot be loaded here."""
    try:
        return _creator(env_id)
    except Exception:  # a missing optional dependency (jax, shimmy...) of one family
        return None


def render_modes_of(env_id):
    """The render modes the environment declares, but ``human``; None when it declares none."""
    creator = creator_of(env_id)
    modes = getattr(creator, "metadata", {}).get("render_modes") if creator is not None else None
    return served_modes(modes)


def served_modes(modes):
    """``modes`` (an environment's ``metadata["render_modes"]``) without ``human``, or None."""
    return None if modes is None else [mode for mode in modes if mode != WINDOW_MODE]


def _suggest(env_id):
    """The closest ids this server can create (not those registered whose package is missing)."""
    lower = {key.lower(): key for key in _creatable_ids()}
    close = difflib.get_close_matches(env_id.lower(), list(lower), n=3, cutoff=0.5)
    return [lower[key] for key in close]


def resolve_env_id(env_id):
    """Check ``env_id`` names a registered environment this server can build."""
    if ":" in env_id:
        raise InvalidInput(
            "env_id",
            "ids in the module:Name form would import code and are not accepted; use a registered id "
            "(GET /v1/registry/ lists them).",
            code="env_id_not_allowed",
        )
    if env_id not in gym.registry:
        suggestions = _suggest(env_id)
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        raise InvalidInput(
            "env_id",
            f"{env_id!r} is not a registered environment.{hint} GET /v1/registry/ lists every id.",
            code="unknown_env_id",
        )
    if creator_of(env_id) is None:
        raise InvalidInput(
            "env_id", f"{env_id} is registered but its package is not installed on this server.", code="unavailable"
        )
    return gym.registry[env_id]


def with_list_modes(modes):
    """``modes`` and the ``<mode>_list`` variants gym.make builds from them
    (it wraps the environment in RenderCollection), in order, without duplicates."""
    listed = [f"{mode}_list" for mode in modes if mode != WINDOW_MODE and not mode.endswith("_list")]
    return list(dict.fromkeys([*modes, *listed]))


def check_render_mode(env_id, render_mode):
    """A 400 naming ``render_mode`` when ``env_id`` does not offer it, or it is ``human``."""
    if render_mode is None:
        return
    modes = render_modes_of(env_id)
    allowed = list(ALL_RENDER_MODES if modes is None else with_list_modes(modes))
    offered = f"one of {allowed}" if allowed else "in no mode this server serves"
    if render_mode == WINDOW_MODE:
        raise InvalidInput(
            "render_mode",
            f"'human' would draw in a window on the server, which no client sees; {env_id} renders {offered} "
            "(GET /v1/envs/{id}/monitor/render/ shows the frames).",
            code="invalid",
        )
    if render_mode not in allowed:
        raise InvalidInput("render_mode", f"{env_id} renders {offered}, not {render_mode!r}.", code="invalid")


def accepted_kwargs(env_id):
    """Keyword names the environment's constructor takes, and whether it takes any (**kwargs).

    A class that passes ``**kwargs`` up to its base class (MiniGrid does) also
    takes its bases' named parameters, so the walk follows the MRO.
    """
    creator = creator_of(env_id)
    names, open_ended = set(), False
    targets = [cls.__init__ for cls in creator.__mro__ if "__init__" in vars(cls)] if inspect.isclass(creator) else [creator]
    for target in targets:
        try:
            parameters = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):
            return names, True
        names.update(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            open_ended = False
            break
        open_ended = True
    names.discard("self")
    return names, open_ended


def check_kwargs(env_id, kwargs):
    """Refuse keyword arguments the constructor does not take, or that name server files."""
    if not kwargs:
        return
    names, open_ended = accepted_kwargs(env_id)
    for key in kwargs:
        if key in RESERVED_KWARGS:
            raise InvalidInput(f"kwargs.{key}", RESERVED_KWARGS[key] + ".")
        if any(word in key.lower() for word in FILE_KWARG_WORDS):
            raise InvalidInput(f"kwargs.{key}", "keyword arguments that name files on the server are not accepted.")
        if key not in names and not open_ended:
            accepted = sorted(names - set(RESERVED_KWARGS))
            raise InvalidInput(
                f"kwargs.{key}",
                f"{env_id} takes no keyword argument {key!r}; it takes {', '.join(accepted) or 'none'}.",
            )


def _number(value):
    if value is None:
        return None
    return value if math.isfinite(value) else encode_any(value)


def spec_summary(spec):
    """What a client needs to know of an environment before creating it."""
    return {
        "id": spec.id,
        "namespace": spec.namespace,
        "max_episode_steps": spec.max_episode_steps,
        "reward_threshold": _number(spec.reward_threshold),
        "nondeterministic": spec.nondeterministic,
        "render_modes": render_modes_of(spec.id),
        "kwargs": encode_any(spec.kwargs),
    }


@functools.lru_cache(maxsize=1)
def _creatable_ids():
    return tuple(env_id for env_id in gym.registry if creator_of(env_id) is not None)


def registry_list(*, query=None):
    """Every environment this server can create, optionally filtered by a case-insensitive substring."""
    ids = _creatable_ids()
    if query:
        ids = [env_id for env_id in ids if query.lower() in env_id.lower()]
    return [spec_summary(gym.registry[env_id]) for env_id in ids]
