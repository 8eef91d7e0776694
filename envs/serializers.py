"""Request bodies, validated; and response shapes, for the OpenAPI schema.

drf-spectacular names a request body's component after its serializer plus
"Request" (COMPONENT_SPLIT_REQUEST, which also marks required strings
non-blank): the request serializers below name their component without the
suffix, so that the schema reads CreateRequest, not CreateRequestRequest.

Responses are built by services as plain dicts and returned as they are: the
response serializers here only document them.
"""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

MAX_SEED = 2**63 - 1  # stored in a 64-bit column


class StrictIntegerField(serializers.IntegerField):
    """An integer in the body: IntegerField would also read "5", 5.0 and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false in the body: BooleanField would also read "yes", "0" and 1."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictFloatField(serializers.FloatField):
    """A number in the body: FloatField would also read "1" and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class NumCpusField(StrictFloatField):
    def __init__(self, **kwargs):
        super().__init__(
            required=False, allow_null=True,
            help_text="On the Ray runtime only: the CPUs the instance's actor reserves (GYMAPI_RAY_NUM_CPUS by default).",
            **kwargs,
        )


class SeedField(StrictIntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=0, max_value=MAX_SEED, required=False, allow_null=True, **kwargs)


# Any JSON value but null (a JSONField takes no null unless allow_null).
JSON_VALUE = {
    "oneOf": [
        {"type": "object", "additionalProperties": {}},
        {"type": "array", "items": {}},
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
    ]
}


@extend_schema_field(JSON_VALUE)
class JSONValueField(serializers.JSONField):
    """Any JSON value but null: an action, a value to test for membership."""


@extend_schema_field({"type": "array", "items": {}})
class JSONListField(JSONValueField):
    """A JSON list, in the schema; a value of another type is refused by the service, which says what it expects."""


@extend_schema_field({"type": "object", "additionalProperties": {}, "nullable": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (or null), with string keys."""

    default_error_messages = {"not_object": "Expected a JSON object."}

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if data is not None and not isinstance(data, dict):
            self.fail("not_object")
        return data


@extend_schema_serializer(component_name="Create")
class CreateRequest(serializers.Serializer):
    env_id = serializers.CharField(max_length=200, help_text="A registered id, e.g. CartPole-v1 or ALE/Pong-v5.")
    render_mode = serializers.CharField(
        max_length=32, required=False, allow_null=True, help_text="rgb_array, ansi, ... as the environment allows."
    )
    seed = SeedField(help_text="Seeds the first reset and the action space's samples.")
    kwargs = JSONObjectField(
        required=False, allow_null=True, help_text="Keyword arguments for the environment's constructor."
    )
    max_episode_steps = StrictIntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)
    record_actions = StrictBooleanField(
        required=False, default=True,
        help_text="Record each episode's actions and what its reset started from, so that it can be replayed "
        "(GET /v1/episodes/{id}/replay/). Off for every instance with GYMAPI_RECORD_ACTIONS=0.",
    )
    num_cpus = NumCpusField()


class CreateResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()


class CloseResponse(serializers.Serializer):
    message = serializers.CharField(help_text='"Environment closed and deleted.", as the seed\'s server answers.')
    instance_id = serializers.UUIDField()
    status = serializers.CharField(help_text="closed")


@extend_schema_serializer(component_name="Reset")
class ResetRequest(serializers.Serializer):
    seed = SeedField(help_text="Seed for this episode; omit to continue the environment's random stream.")
    options = JSONObjectField(required=False, allow_null=True, help_text="Passed to the environment's reset.")


class ResetResponse(serializers.Serializer):
    observation = serializers.JSONField()
    info = serializers.DictField()


@extend_schema_serializer(component_name="Step")
class StepRequest(serializers.Serializer):
    action = JSONValueField(help_text="A member of the action space, as JSON (GET action_space describes it).")


class StepMessage(serializers.Serializer):
    """A step over the step socket: its action required and, even null, decoded by the codec,
    which names the action space in its error."""

    action = JSONValueField(allow_null=True)


class StepResponse(serializers.Serializer):
    observation = serializers.JSONField()
    reward = serializers.JSONField(help_text='A number, or "Infinity", "-Infinity", "NaN".')
    terminated = serializers.BooleanField()
    truncated = serializers.BooleanField()
    info = serializers.DictField()
    done = serializers.BooleanField(help_text="terminated or truncated, for clients of the older gym-http-api.")


@extend_schema_serializer(component_name="Contains")
class ContainsRequest(serializers.Serializer):
    x = JSONValueField(help_text="A value to test for membership, as JSON.")


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
    id = serializers.IntegerField(allow_null=True, help_text="Its /v1/episodes/{id}/; null while it has no row yet.")
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


# --- vector instances (/v1/vector_envs/) ---------------------------------------------

MAX_NUM_ENVS = 256


class NumEnvsField(StrictIntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_NUM_ENVS, **kwargs)


@extend_schema_serializer(component_name="VectorCreate")
class VectorCreateRequest(serializers.Serializer):
    env_id = serializers.CharField(max_length=200, help_text="A registered id, e.g. CartPole-v1.")
    num_envs = NumEnvsField(help_text=f"How many sub-environments, 1 to {MAX_NUM_ENVS}.")
    seed = SeedField(help_text="Seeds the first reset (sub-environment i with seed + i) and the action space's samples.")
    kwargs = JSONObjectField(
        required=False, allow_null=True, help_text="Keyword arguments for each sub-environment's constructor."
    )
    max_episode_steps = StrictIntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)
    record_actions = StrictBooleanField(
        required=False, default=True,
        help_text="Record each sub-environment's episodes' actions, so that they can be replayed (README, Episodes).",
    )
    num_cpus = NumCpusField()


class VectorCreateResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()
    num_envs = serializers.IntegerField()


@extend_schema_serializer(component_name="VectorStep")
class VectorStepRequest(serializers.Serializer):
    action = JSONListField(
        help_text="A list of num_envs actions, one per sub-environment, each a member of the single action space."
    )


class VectorStepResponse(serializers.Serializer):
    observation = serializers.JSONField(help_text="The batched observation: for a Box, an array of num_envs rows.")
    reward = serializers.ListField(child=serializers.JSONField())
    terminated = serializers.ListField(child=serializers.BooleanField())
    truncated = serializers.ListField(child=serializers.BooleanField())
    info = serializers.DictField(help_text="Batched as Gymnasium batches it: each key a list, with a _key mask.")
    done = serializers.ListField(child=serializers.BooleanField(), help_text="terminated or truncated.")


class SubEnvEpisode(serializers.Serializer):
    sub_env = serializers.IntegerField()
    number = serializers.IntegerField(help_text="0 before the first reset.")
    steps = serializers.IntegerField()
    ended = serializers.BooleanField(help_text="It ended in the last step; the next step starts the next episode.")


SubEnvEpisode._declared_fields["return"] = serializers.JSONField()


class BatchedSpaceOutline(serializers.Serializer):
    name = serializers.CharField()
    shape = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    dtype = serializers.CharField(allow_null=True)


class VectorInstanceResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()
    env_id = serializers.CharField()
    num_envs = serializers.IntegerField()
    vectorization_mode = serializers.ChoiceField(choices=["vector_entry_point", "sync"])
    autoreset_mode = serializers.CharField(help_text="Gymnasium's AutoresetMode: NextStep.")
    status = serializers.CharField()
    created = serializers.DateTimeField()
    kwargs = serializers.DictField()
    seed = serializers.IntegerField(allow_null=True)
    steps = serializers.IntegerField(help_text="Batched steps taken.")
    needs_reset = serializers.BooleanField()
    episodes = serializers.IntegerField(help_text="Episodes started so far, all sub-environments together.")
    sub_envs = SubEnvEpisode(many=True, help_text="Each sub-environment's current episode.")
    single_action_space = SpaceResponse(help_text="One sub-environment's action space, in full.")
    single_observation_space = SpaceResponse(help_text="One sub-environment's observation space, in full.")
    action_space = BatchedSpaceOutline(help_text="The batched action space (in full: GET .../action_space/).")
    observation_space = BatchedSpaceOutline(help_text="The batched observation space (in full: GET .../observation_space/).")
    spec = serializers.DictField()


class VectorSpaceResponse(serializers.Serializer):
    num_envs = serializers.IntegerField()
    single = SpaceResponse(help_text="One sub-environment's space.")
    batched = SpaceResponse(help_text="The space of the batch, as Gymnasium's batch_space builds it.")


class VectorSampleResponse(serializers.Serializer):
    action = serializers.ListField(child=serializers.JSONField(), help_text="One action per sub-environment.")


class VectorEpisodesQuery(EpisodesQuery):
    sub_env = serializers.IntegerField(min_value=0, required=False, help_text="Only this sub-environment's.")


class VectorEpisodeRecord(EpisodeRecord):
    sub_env = serializers.IntegerField()


class VectorEpisodesResponse(serializers.Serializer):
    instance_id = serializers.UUIDField()
    env_id = serializers.CharField()
    num_envs = serializers.IntegerField()
    status = serializers.CharField()
    count = serializers.IntegerField(help_text="Episodes recorded in all (of the sub-environment asked for).")
    episodes = VectorEpisodeRecord(many=True)


# --- every recorded episode (/v1/episodes/) -------------------------------------------------


class EpisodeSummary(serializers.Serializer):
    id = serializers.IntegerField(help_text="The episode's id: /v1/episodes/{id}/.")
    instance_id = serializers.UUIDField()
    env_id = serializers.CharField()
    number = serializers.IntegerField(help_text="1 for the instance's (or sub-environment's) first episode.")
    sub_env = serializers.IntegerField(help_text="The sub-environment of a vector instance; 0 for a single one.")
    seed = serializers.IntegerField(allow_null=True)
    steps = serializers.IntegerField()
    terminated = serializers.BooleanField()
    truncated = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["running", "terminated", "truncated", "interrupted"])
    started = serializers.DateTimeField()
    ended = serializers.DateTimeField(allow_null=True)


EpisodeSummary._declared_fields["return"] = serializers.JSONField(help_text="Sum of the episode's rewards.")


class Unreplayable(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class EpisodeDetail(EpisodeSummary):
    options = serializers.DictField(allow_null=True, help_text="Options given to its reset.")
    actions = serializers.ListField(
        child=serializers.JSONField(), allow_null=True, help_text="Its actions as JSON values; null when not recorded."
    )
    unreplayable = Unreplayable(allow_null=True, help_text="Why a replay would be refused (409), or null.")


class ReplayResponse(serializers.Serializer):
    reproduced = serializers.BooleanField(help_text="The replay gave the recorded steps, return and end.")
    steps = serializers.IntegerField()
    recorded_return = serializers.JSONField()


ReplayResponse._declared_fields["return"] = serializers.JSONField(help_text="The replay's return.")


def nullable_bodies(result, generator, request, public):
    """drf-spectacular postprocessing hook: a body in which nothing is required may
    also be null, as the views take it (a reset's, as older clients send it)."""
    schemas = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                name = content.get("schema", {}).get("$ref", "").rpartition("/")[2]
                if name in schemas and not schemas[name].get("required"):
                    schemas[name]["nullable"] = True
    return result
