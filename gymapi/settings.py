"""Settings for gymapi, read from environment variables.

A fresh checkout runs with no variables set: SQLite, the in-memory channel
layer, debug on, bound to loopback. A deployment sets DATABASE_URL,
REDIS_URL, SECRET_KEY and DEBUG=0; nothing else needs a separate file.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name, default):
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name, default):
    return int(os.getenv(name, default))


def envfloat(name, default):
    return float(os.getenv(name, default))


def envlist(name, default):
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


# Where a container's memory limit is written: cgroup v2, then v1.
CGROUP_MEMORY_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit_mb():
    """The memory this process may use, in MB: its cgroup's limit when one is set,
    else the machine's; 0 when neither can be read."""
    limits = []
    for path in CGROUP_MEMORY_FILES:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) or a huge number (v1) when no limit is set
            limits.append(int(text) // 2**20)
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)
    except (AttributeError, KeyError, ValueError, OSError):
        pass
    return min(limits, default=0)


# Headless rendering: MuJoCo through EGL, pygame without a display or sound
# card. Set before any environment module is imported.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

SECRET_KEY = os.getenv("SECRET_KEY", "dev-only-insecure-key-set-SECRET_KEY-in-production")
DEBUG = envbool("DEBUG", "1")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
# Behind a TLS proxy, the https:// origins whose forms (the admin's login) are
# trusted, e.g. https://gym.example.org (README, Deployment for a team).
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # The project itself, first: its runserver (the production server with its lifespan)
    # wins over staticfiles' and Django's.
    "gymapi",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "corsheaders",
    "envs",
    "monitor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware and the key check: it answers CORS preflights
    # itself and adds its headers to every /v1 answer, 401s included.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "envs.middleware.ApiKeyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gymapi.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "gymapi.wsgi.application"
ASGI_APPLICATION = "gymapi.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
        # A connection kept between requests (the fast path's workers keep theirs) is
        # checked before it is used again: a database restarted meanwhile costs no error.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads write episode records; wait for the lock rather than fail.
    # WAL lets readers go on during a write, and synchronous=NORMAL commits
    # without an fsync each (a commit can be lost on power loss, never by a
    # crash of the server): an episode's end costs microseconds, not a disk
    # flush (README, Performance).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if os.getenv("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # The prefix of every key and channel the layer makes in Redis (channels-redis's
            # default, "asgi"): deployments or test runs sharing one Redis database stay apart by it.
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]], "prefix": os.getenv("GYMAPI_CHANNEL_PREFIX", "asgi")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files the server writes for its clients (legacy mode's monitor videos), served
# only through the API, never as a directory.
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", str(BASE_DIR / "media")))

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "envs.renderers.ORJSONRenderer",
        "envs.renderers.MsgpackRenderer",
        # DRF's, with example bodies, instance links and the registry's filter (envs/browsable.py).
        "envs.browsable.BrowsableAPIRenderer",
    ],
    # JSON (the default) and msgpack, both by content negotiation; no forms: an
    # action sent as a form field would arrive as a string.
    "DEFAULT_PARSER_CLASSES": ["envs.parsers.JSONParser", "envs.parsers.MsgpackParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "envs.errors.exception_handler",
    # Media types by the Accept header only: ?format= answered an unknown value
    # with a bare 404 and showed in the schema as a parameter of every route.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "gymapi",
    "DESCRIPTION": (
        "Gymnasium reinforcement-learning environments over HTTP: create an "
        "environment, reset it, step it and study its history from any language."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "envs.serializers.nullable_bodies",
        # The Bearer API key on every operation when GYMAPI_REQUIRE_KEYS is on, none otherwise.
        "envs.schema.api_key_security",
    ],
    # No icon link of Swagger UI's own (its default is on a CDN): the page (templates/docs.html) links the site's.
    "SWAGGER_UI_FAVICON_HREF": "",
}

# How often, at most, a running episode's step count and return are written
# to the database while it is still going (it is always written at its end).
GYMAPI_FLUSH_SECONDS = envfloat("GYMAPI_FLUSH_SECONDS", "5")
# Episode records on (the default) or off: off, instances are still recorded
# but their episodes are not (the benchmark's "recording off" row).
GYMAPI_RECORD = envbool("GYMAPI_RECORD", "1")
# What replays each episode (its actions, its reset's seed, options and generator
# state) recorded with its row; an instance may turn it off at creation
# (record_actions: false). 0 turns it off for every instance.
GYMAPI_RECORD_ACTIONS = envbool("GYMAPI_RECORD_ACTIONS", "1")
# Restarts (README, Restarts; envs/services/resume.py): on, a SIGTERM suspends the instances
# instead of closing them and the next server rebuilds each under its id by replaying its
# running episode, as does a server started after a crash where the rows cover what its
# clients were answered; episodes longer than GYMAPI_RESUME_MAX_STEPS steps are not rebuilt.
GYMAPI_RESUME = envbool("GYMAPI_RESUME", "1")
GYMAPI_RESUME_MAX_STEPS = envint("GYMAPI_RESUME_MAX_STEPS", "10000")
# Replays of recorded episodes (GET /v1/episodes/{id}/replay/, its videos, manage.py
# export_minari): the longest episode replayed, and the seconds one replay or
# video render may take before it is given up.
GYMAPI_REPLAY_MAX_STEPS = envint("GYMAPI_REPLAY_MAX_STEPS", "100000")
GYMAPI_REPLAY_TIMEOUT = envfloat("GYMAPI_REPLAY_TIMEOUT", "120")
# Replays and video renders served at once by this server process (each builds an
# environment, a video's an ffmpeg too); past it they are answered 503. 0: no bound.
GYMAPI_MAX_REPLAYS = envint("GYMAPI_MAX_REPLAYS", "2")
# Megabytes of episode videos kept under MEDIA_ROOT/episodes/; each video written
# removes the oldest written until they fit. 0: no bound.
GYMAPI_MAX_VIDEO_MB = envfloat("GYMAPI_MAX_VIDEO_MB", "1024")
# Cheap steps and resets answered on the event loop (envs/http/dispatch.py). Off, every
# call is made in a thread: for environments that may hang, since a call on the
# loop cannot be abandoned.
GYMAPI_INLINE = envbool("GYMAPI_INLINE", "1")
# Who writes the episode rows (envs/recording/writer.py): "loop", the server's
# event loop itself (a SQLite file or PostgreSQL: the default there), or
# "thread", a thread of the writer's own (any database).
_SQLITE_FILE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and DATABASES["default"]["NAME"] not in (
    "", ":memory:"
)
_LOOP_WRITES = _SQLITE_FILE or DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
GYMAPI_WRITER = os.getenv("GYMAPI_WRITER", "loop" if _LOOP_WRITES else "thread")
if GYMAPI_WRITER not in ("loop", "thread"):
    raise ImproperlyConfigured(f"GYMAPI_WRITER must be 'loop' or 'thread', not {GYMAPI_WRITER!r}")
if GYMAPI_WRITER == "loop" and not _LOOP_WRITES:
    raise ImproperlyConfigured("GYMAPI_WRITER=loop writes on a SQLite database file or PostgreSQL only: use 'thread'")
# Episode rows kept while the database cannot be reached, at most; past it steps and
# resets are answered 503 until it is back. 0: no bound.
GYMAPI_WRITER_BACKLOG = envint("GYMAPI_WRITER_BACKLOG", "100000")
# PostgreSQL: commit the writer's rows without waiting for the WAL to reach the disk
# (faster; a crash of the database host may lose the last rows answered for).
GYMAPI_ASYNC_COMMIT = envbool("GYMAPI_ASYNC_COMMIT", "0")

# Limits (README, Limits). Each 0 turns its limit off.
# Environments held at once by this server: a single instance counts 1, a
# vector instance its num_envs (each sub-environment costs what an instance does).
GYMAPI_MAX_INSTANCES = envint("GYMAPI_MAX_INSTANCES", "1000")
# Resident memory of the server process, in MB, past which creations are refused
# (a 503): three quarters of what the process may use by default, so that the
# machine or the container is not driven to the OOM killer.
GYMAPI_MAX_RSS_MB = envint("GYMAPI_MAX_RSS_MB", str(memory_limit_mb() * 3 // 4))
# Connections (gymapi/protocol.py): seconds a request may take to send its headers
# before its connection is closed, and connections held at once, WebSockets
# included (keep it well below the open files limit, ulimit -n).
GYMAPI_HEADER_TIMEOUT = envfloat("GYMAPI_HEADER_TIMEOUT", "10")
GYMAPI_MAX_CONNECTIONS = envint("GYMAPI_MAX_CONNECTIONS", "1000")
# Bytes of observation a vector instance may answer a step with: num_envs times one
# environment's observation (a Pong frame is 100,800 bytes: 83 of them).
GYMAPI_MAX_VECTOR_OBS_BYTES = envint("GYMAPI_MAX_VECTOR_OBS_BYTES", str(8 * 1024 * 1024))
# Size of a request body (Django's setting: the fast path and DRF both answer 413 beyond it).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("GYMAPI_MAX_BODY_BYTES", "2621440") or None
# Size of a create's kwargs, as compact JSON.
GYMAPI_MAX_KWARGS_BYTES = envint("GYMAPI_MAX_KWARGS_BYTES", "65536")
# Longest episode: a create may ask for at most this max_episode_steps, and
# environments with no limit of their own (or a longer one) get this one.
GYMAPI_MAX_EPISODE_STEPS = envint("GYMAPI_MAX_EPISODE_STEPS", "100000")
# An instance untouched (no reset, step, render or sample) for this long is
# closed and marked reaped; the server looks every GYMAPI_REAP_INTERVAL seconds.
GYMAPI_IDLE_SECONDS = envfloat("GYMAPI_IDLE_SECONDS", "3600")
GYMAPI_REAP_INTERVAL = max(envfloat("GYMAPI_REAP_INTERVAL", "60"), 0.01)
# A call into an environment made in a thread that runs longer than this is
# abandoned and the instance marked broken. Calls made on the event loop
# (envs/http/dispatch.py) cannot be: GYMAPI_INLINE=0 makes every call a thread's.
GYMAPI_CALL_TIMEOUT = envfloat("GYMAPI_CALL_TIMEOUT", "60")

# Who may do what (envs/access.py; README, Deployment for a team). Off, the
# default, anyone who reaches the server drives every instance: the zero-config
# local run. On, every /v1 and ws/ route takes an API key (manage.py apikey
# create NAME) and each key sees only the instances it created.
GYMAPI_REQUIRE_KEYS = envbool("GYMAPI_REQUIRE_KEYS", "0")
# How long a key lookup is remembered in memory: a key revoked from another
# process (manage.py apikey revoke) works for at most this long.
GYMAPI_KEY_CACHE_SECONDS = max(envfloat("GYMAPI_KEY_CACHE_SECONDS", "10"), 0.0)
# How long a WebSocket without ?key= may take to send its {"op": "auth"} message
# before it is closed (4401): an open socket costs the server a little.
GYMAPI_AUTH_TIMEOUT = max(envfloat("GYMAPI_AUTH_TIMEOUT", "10"), 0.0)
# Active instances (single or vector, one each) a key may hold at once; 0: no cap.
GYMAPI_MAX_INSTANCES_PER_KEY = envint("GYMAPI_MAX_INSTANCES_PER_KEY", "0") or None
# Pages of other origins allowed to call /v1 from a browser (django-cors-headers),
# comma-separated as scheme://host[:port]; none by default. No cookies cross origins:
# such pages send a key.
# "*" allows every origin, as the seed's server did (never with credentials: the
# answers carry "Access-Control-Allow-Origin: *", and browsers send no cookies with it).
CORS_ALLOWED_ORIGINS = envlist("GYMAPI_CORS_ORIGINS", "")
CORS_ALLOW_ALL_ORIGINS = "*" in CORS_ALLOWED_ORIGINS
if CORS_ALLOW_ALL_ORIGINS:
    CORS_ALLOWED_ORIGINS = []
CORS_ALLOW_CREDENTIALS = False
CORS_URLS_REGEX = r"^/v1/" if CORS_ALLOWED_ORIGINS or CORS_ALLOW_ALL_ORIGINS else r"(?!)"  # (?!): no CORS headers

# Watching: at most this many frames a second per watched instance, on the
# WebSocket tiles and on the MJPEG stream; and the JPEG quality of those frames.
GYMAPI_STREAM_FPS = max(envfloat("GYMAPI_STREAM_FPS", "15"), 0.1)
GYMAPI_JPEG_QUALITY = min(max(envint("GYMAPI_JPEG_QUALITY", "80"), 1), 95)

# Legacy mode: /v1 answers as openai/gym-http-api did, so its client bindings
# work unchanged (envs/legacy/; README, Clients of gym-http-api). In it,
# POST /v1/shutdown/ stops the server only when GYMAPI_ALLOW_SHUTDOWN is on.
GYMAPI_LEGACY_API = envbool("GYMAPI_LEGACY_API", "0")

# Where the environments live (envs/runtime/): "local", in this server process (the
# default: nothing to set up), or "ray", each instance a Ray actor of the cluster at
# RAY_ADDRESS, behind any number of servers ("fronts") sharing one PostgreSQL database
# and one Redis (README, Scaling out).
GYMAPI_RUNTIME = os.getenv("GYMAPI_RUNTIME", "local")
if GYMAPI_RUNTIME not in ("local", "ray"):
    raise ImproperlyConfigured(f"GYMAPI_RUNTIME must be 'local' or 'ray', not {GYMAPI_RUNTIME!r}")
if GYMAPI_RUNTIME == "ray":
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("GYMAPI_RUNTIME=ray needs a PostgreSQL DATABASE_URL, which every front shares")
    if GYMAPI_LEGACY_API:
        raise ImproperlyConfigured("GYMAPI_LEGACY_API's monitor records videos in the server process: not with GYMAPI_RUNTIME=ray")
# The CPUs Ray reserves for each instance's actor (fractions allowed: a cheap
# environment uses a small part of one), and the most a creation may ask for.
GYMAPI_RAY_NUM_CPUS = envfloat("GYMAPI_RAY_NUM_CPUS", "0.25")
GYMAPI_RAY_MAX_NUM_CPUS = envfloat("GYMAPI_RAY_MAX_NUM_CPUS", "4")
# Packages imported by the server and by every actor, for the environments they
# register (beside Gymnasium's own, ALE's and MiniGrid's), comma-separated.
GYMAPI_ENV_PACKAGES = envlist("GYMAPI_ENV_PACKAGES", "")
GYMAPI_ALLOW_SHUTDOWN = envbool("GYMAPI_ALLOW_SHUTDOWN", "0")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}
