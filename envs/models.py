"""What the server records of environment instances and their episodes, and the API keys that own them."""

import hashlib
import secrets
import uuid

from django.db import models
from django.utils import timezone


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)

    def create_key(self, *, name):
        """Create a key named ``name``; returns ``(api_key, key)``. ``key`` is the
        secret the client sends: it is not stored (only its hash) and is shown once."""
        api_key = ApiKey(name=name)
        key = api_key.set_new_key()
        api_key.save()
        return api_key, key


class ApiKey(models.Model):
    """A key a client sends as ``Authorization: Bearer <key>`` when the server requires keys.

    Only the SHA-256 of the key is stored, with its first characters in clear
    (``prefix``) to tell keys apart in lists. The key itself is shown once,
    when it is created (admin or ``manage.py apikey create``). Keys are revoked,
    never deleted, so the instances they created keep their owner.
    """

    PREFIX = "gk_"
    VISIBLE = 11  # "gk_" and 8 characters of the random part

    name = models.CharField(max_length=100, unique=True, help_text="Who or what uses this key.")
    prefix = models.CharField(max_length=16, db_index=True, editable=False, help_text="The key's first characters.")
    hashed_key = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the key, hex.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Updated at most every GYMAPI_KEY_CACHE_SECONDS."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}...)"

    @staticmethod
    def hash(key):
        return hashlib.sha256(key.encode()).hexdigest()

    def set_new_key(self):
        """Give this (unsaved) key a new random secret: 32 bytes, URL-safe; returns it."""
        key = self.PREFIX + secrets.token_urlsafe(32)
        self.prefix, self.hashed_key = key[: self.VISIBLE], self.hash(key)
        return key

    @property
    def revoked(self):
        return self.revoked_at is not None


class InstanceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"
    LOST = "lost", "Lost"
    REAPED = "reaped", "Reaped"  # closed by the server for being idle (GYMAPI_IDLE_SECONDS)
    BROKEN = "broken", "Broken"  # its environment raised or hung; closed by the server
    # Its server stopped (SIGTERM) with GYMAPI_RESUME on: the next server to start rebuilds it under
    # the same id (services/resume.py).
    SUSPENDED = "suspended", "Suspended"


class EnvInstanceQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=InstanceStatus.ACTIVE)

    def singles(self):
        """Instances of one environment (``/v1/envs/``)."""
        return self.filter(num_envs__isnull=True)

    def vectors(self):
        """Vector instances of ``num_envs`` sub-environments (``/v1/vector_envs/``)."""
        return self.filter(num_envs__isnull=False)

    def visible_to(self, caller):
        """The instances ``caller`` (an ``envs.access.Caller``) may see: all, or its key's own."""
        return self if caller.sees_all else self.filter(owner_id=caller.key_id)

    def mark_lost(self):
        """Mark these instances lost (those still active)."""
        return self.active().update(status=InstanceStatus.LOST, closed_at=timezone.now())


class EnvInstance(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    env_id = models.CharField(max_length=200, db_index=True, help_text="Gymnasium registry id, e.g. CartPole-v1.")
    render_mode = models.CharField(max_length=32, null=True, blank=True)
    kwargs = models.JSONField(default=dict, blank=True, help_text="Keyword arguments given to gym.make.")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Seed given at creation, if any.")
    max_episode_steps = models.PositiveIntegerField(null=True, blank=True)
    num_envs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sub-environments of a vector instance; empty for a single environment."
    )
    status = models.CharField(
        max_length=16, choices=InstanceStatus.choices, default=InstanceStatus.ACTIVE, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was closed or found lost.")
    status_reason = models.TextField(
        blank=True, default="", help_text="Why it was reaped or broke (the environment's error, kept for its 410s)."
    )
    process = models.CharField(
        max_length=200, blank=True, default="", help_text="The server process that holds it (host:pid:start), for manage.py reap."
    )
    record_actions = models.BooleanField(
        default=True, help_text="Whether its episodes' actions are recorded, so that they can be replayed."
    )
    resumable = models.BooleanField(
        default=False,
        help_text="Whether a restart of its server takes it up where it was (GYMAPI_RESUME; README, Restarts).",
    )
    vector_steps = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="A suspended vector instance's steps since its creation, for its next server."
    )
    owner = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="instances",
        help_text="The API key that created it; empty when keys were not required.",
    )

    objects = EnvInstanceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "environment instance"

    def __str__(self):
        return f"{self.env_id} {self.id}"


class EpisodeQuerySet(models.QuerySet):
    def visible_to(self, caller):
        """The episodes ``caller`` (an ``envs.access.Caller``) may see: all, or its key's instances'."""
        return self if caller.sees_all else self.filter(instance__owner_id=caller.key_id)


class Episode(models.Model):
    # No index of its own: the unique (instance, sub_env, number) index starts with
    # it and serves every lookup by instance, and each index costs every insert.
    instance = models.ForeignKey(EnvInstance, on_delete=models.CASCADE, related_name="episodes", db_index=False)
    sub_env = models.PositiveIntegerField(
        default=0, help_text="The sub-environment of a vector instance it ran in; 0 for a single environment."
    )
    number = models.PositiveIntegerField(help_text="1 for the instance's (or sub-environment's) first episode.")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Seed given to this episode's reset, if any.")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    steps = models.PositiveIntegerField(default=0)
    total_reward = models.FloatField(default=0.0, help_text="Sum of the rewards so far.")
    terminated = models.BooleanField(default=False)
    truncated = models.BooleanField(default=False)
    # What replays it (README, Episodes): with its seed, these replay it in a fresh environment.
    options = models.JSONField(null=True, blank=True, help_text="Options given to this episode's reset, if any.")
    generator = models.JSONField(
        null=True, blank=True,
        help_text="The state of the environment's random generator before an unseeded reset (numpy's bit generator state).",
    )
    actions = models.BinaryField(
        null=True, blank=True, help_text="Its actions so far, encoded (envs/actions.py); empty when not recorded."
    )
    unreplayable = models.TextField(
        blank=True, default="", help_text="Why it cannot be replayed, when that was known as it was recorded."
    )
    resumable = models.BooleanField(
        default=False,
        help_text="Written by the server when this row covers every answer its instance gave: after a crash, the "
        "instance is rebuilt from it (README, Restarts).",
    )

    objects = EpisodeQuerySet.as_manager()

    class Meta:
        ordering = ["instance", "sub_env", "number"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "sub_env", "number"], name="unique_episode_number_per_sub_env")
        ]

    def __str__(self):
        where = f" (sub-env {self.sub_env})" if self.sub_env else ""
        return f"episode {self.number} of {self.instance_id}{where}"

    @property
    def outcome(self):
        if self.terminated:
            return "terminated"
        if self.truncated:
            return "truncated"
        if self.ended_at is not None:
            return "interrupted"
        return "running"

    @property
    def duration(self):
        if self.ended_at is None:
            return None
        return self.ended_at - self.started_at
