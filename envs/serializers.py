"""Request bodies, validated; and response shapes, for the OpenAPI schema.

Responses are built by services as plain dicts and returned as they are: the
response serializers here only document them.
"""

from rest_framework import serializers

MAX_SEED = 2**63 - 1  # stored in a 64-bit column


class SeedField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_SEED, required=False, allow_null=True, **kwargs)

    def to_internal_value(self, data):
        # IntegerField would read "5" and 5.0 as 5; a seed must be an integer.
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONObjectField(serializers.JSONField):
    """A JSON object (or null), with string keys."""

    default_error_messages = {"not_object": "Expected a JSON object."}

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if data is not None and not isinstance(data, dict):
            self.fail("not_object")
        return data


class CreateRequest(serializers.Serializer):
    env_id = serializers.CharField(max_length=200, help_text="A registered id, e.g. CartPole-v1 or ALE/Pong-v5.")
    render_mode = serializers.CharField(
        max_length=32, required=False, allow_null=True, help_text="rgb_array, ansi, ... as the environment allows."
    )
    seed = SeedField(help_text="Seeds the first reset and the action space's samples.")
    kwargs = JSONObjectField(
        required=False, allow_null=True, help_text="Keyword arguments for the environment's constructor."
    )
    max_episode_steps = serializers.IntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)


class CreateResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()


class ResetRequest(serializers.Serializer):
    seed = SeedField(help_text="Seed for this episode; omit to continue the environment's random stream.")
    options = JSONObjectField(required=False, allow_null=True, help_text="Passed to the environment's reset.")


class ResetResponse(serializers.Serializer):
    observation = serializers.JSONField()
    info = serializers.DictField()


class StepRequest(serializers.Serializer):
    action = serializers.JSONField(help_text="A member of the action space, as JSON (GET action_space describes it).")


class StepResponse(serializers.Serializer):
    observation = serializers.JSONField()
    reward = serializers.JSONField(help_text='A number, or "Infinity", "-Infinity", "NaN".')
    terminated = serializers.BooleanField()
    truncated = serializers.BooleanField()
    info = serializers.DictField()
    done = serializers.BooleanField(help_text="terminated or truncated, for clients of the older gym-http-api.")


class ContainsRequest(serializers.Serializer):
    x = serializers.JSONField(help_text="A value to test for membership, as JSON.")


class ContainsResponse(serializers.Serializer):
    member = serializers.BooleanField()


class SampleResponse(serializers.Serializer):
    action = serializers.JSONField()


class SpaceResponse(serializers.Serializer):
    name = serializers.CharField(help_text="The space's class: Box, Discrete, Dict, ...")


class EpisodeState(serializers.Serializer):
    number = serializers.IntegerField()
    steps = serializers.IntegerField()
    # "return" is a Python keyword, hence the declared name below.
    terminated = serializers.BooleanField()
    truncated = serializers.BooleanField()
    needs_reset = serializers.BooleanField()


EpisodeState._declared_fields["return"] = serializers.JSONField()


class EnvSpec(serializers.Serializer):
    id = serializers.CharField()
    namespace = serializers.CharField(allow_null=True)
    max_episode_steps = serializers.IntegerField(allow_null=True)
    reward_threshold = serializers.FloatField(allow_null=True)
    nondeterministic = serializers.BooleanField()
    render_modes = serializers.ListField(child=serializers.CharField(), allow_null=True)
    kwargs = serializers.DictField()


class InstanceSpec(EnvSpec):
    render_fps = serializers.FloatField(allow_null=True)


class InstanceResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()
    env_id = serializers.CharField()
    render_mode = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    created = serializers.DateTimeField()
    kwargs = serializers.DictField()
    seed = serializers.IntegerField(allow_null=True)
    episodes = serializers.IntegerField(help_text="Episodes started so far.")
    episode = EpisodeState(help_text="The current episode.")
    spec = InstanceSpec()


class ErrorResponse(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class RenderResponse(serializers.Serializer):
    render_mode = serializers.CharField()
    content_type = serializers.CharField(help_text="image/png for frames, text/plain for ansi text.")
    encoding = serializers.CharField(help_text="base64 for images, utf-8 for text.")
    data = serializers.JSONField(help_text="One frame or text; a list of them for the *_list render modes.")


class EpisodesQuery(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1, max_value=10000, default=1000, help_text="How many of the latest episodes to return."
    )


class EpisodeRecord(serializers.Serializer):
    number = serializers.IntegerField()
    seed = serializers.IntegerField(allow_null=True)
    started = serializers.DateTimeField()
    ended = serializers.DateTimeField(allow_null=True)
    steps = serializers.IntegerField()
    terminated = serializers.BooleanField()
    truncated = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["running", "terminated", "truncated", "interrupted"])


EpisodeRecord._declared_fields["return"] = serializers.JSONField(help_text="Sum of the episode's rewards.")


class EpisodesResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()
    env_id = serializers.CharField()
    status = serializers.CharField()
    count = serializers.IntegerField(help_text="Episodes recorded in all; the list holds the latest of them.")
    episodes = EpisodeRecord(many=True)
