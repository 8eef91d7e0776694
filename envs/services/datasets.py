"""Minari datasets of recorded episodes (``manage.py export_minari``; README, Episodes).

Observations are not recorded (an image observation a step would dwarf every
other column): each selected episode is replayed instead, in a fresh
environment of its id and kwargs, and its observations, rewards, terminations,
truncations and infos are those the replay gives, its return checked against
the recorded one (a mismatch fails the whole export, naming the episode, and
leaves no dataset). The dataset is written by Minari (0.5.x, its default HDF5
storage) under ``MINARI_DATASETS_PATH`` as Minari resolves it (else
``~/.minari/datasets``), in batches of replayed steps. The episode rows are
read ``CHUNK`` at a time, twice (once to check them all before anything is
written, once to replay them), so that a long export never holds every
episode, nor every episode's actions, in memory: only the ids of those kept.
"""

import shutil

import gymnasium as gym
from gymnasium import spaces

from ..errors import NotReplayable
from .replay import replay_checked, replay_refusal

# Steps replayed into memory before they are written to the dataset.
BATCH_STEPS = 20_000
# Episode rows (each with its actions) read from the database at a time.
CHUNK = 500


class DatasetError(Exception):
    """An export that cannot be made; nothing is left behind."""


def dataset_export(*, dataset_id, episodes, author=None, description=None, skip_unreplayable=False, log=print):
    """Write ``episodes`` (a queryset of ``Episode``) as the Minari dataset ``dataset_id``;
    returns the ``MinariDataset``. ``skip_unreplayable`` leaves out, with a line each in
    ``log``, the episodes that cannot be replayed instead of refusing the export."""
    import minari  # loaded for an export only
    from minari.storage import get_dataset_path

    episodes = episodes.select_related("instance").order_by("id")
    kept, made, instance = set(), set(), None
    for episode in episodes.iterator(chunk_size=CHUNK):
        refusal = replay_refusal(episode)
        if refusal is None:
            kept.add(episode.pk)
            made.add((episode.instance.env_id, _key(episode.instance.kwargs), episode.instance.max_episode_steps))
            instance = instance or episode.instance
        elif skip_unreplayable:
            log(f"Left out: {refusal.detail}")
        else:
            raise DatasetError(f"{refusal.detail} (--skip-unreplayable leaves such episodes out)")
    if not kept:
        raise DatasetError("No replayable episode matches: nothing to export.")
    if len(made) > 1:
        listed = "; ".join(f"{env_id} {kwargs} (max_episode_steps {steps})" for env_id, kwargs, steps in sorted(made, key=str))
        raise DatasetError(f"A dataset holds episodes of one environment; these come from several: {listed}. Filter by --env-id or --instance.")
    env = gym.make(instance.env_id, **(instance.kwargs or {}), **_limit(instance))
    spec, observation_space, action_space = env.spec, env.observation_space, env.action_space
    env.close()
    path = get_dataset_path(dataset_id)
    if path.exists():
        raise DatasetError(f"A Minari dataset {dataset_id} already exists at {path}.")
    dataset, batch, steps, written = None, [], 0, 0
    try:
        for episode in episodes.filter(pk__gte=min(kept)).iterator(chunk_size=CHUNK):
            if episode.pk not in kept:  # left out above, or recorded since
                continue
            batch.append(_replayed(episode, observation_space, action_space))
            steps, written = steps + episode.steps, written + 1
            if steps >= BATCH_STEPS:
                dataset = _write(minari, dataset, dataset_id, batch, spec, author, description)
                batch, steps = [], 0
        if batch:
            dataset = _write(minari, dataset, dataset_id, batch, spec, author, description)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # a dataset is written whole or not at all
        raise
    log(f"Wrote {written} episode(s) of {instance.env_id} to the Minari dataset {dataset_id} at {path}.")
    return dataset


def _key(kwargs):
    return tuple(sorted((kwargs or {}).items(), key=lambda item: item[0]))


def _limit(instance):
    return {} if instance.max_episode_steps is None else {"max_episode_steps": instance.max_episode_steps}


def _write(minari, dataset, dataset_id, batch, spec, author, description):
    if dataset is not None:
        dataset.update_dataset_from_buffer(batch)
        return dataset
    return minari.create_dataset_from_buffers(
        dataset_id, batch, env=spec, algorithm_name="recorded by gymapi", author=author,
        description=description or f"Episodes of {spec.id} recorded by gymapi, replayed from their seeds and actions.",
    )


def _replayed(episode, observation_space, action_space):
    """One episode replayed into a Minari ``EpisodeBuffer``; ``DatasetError`` when it replays otherwise."""
    from minari.data_collector import EpisodeBuffer

    observations, actions, rewards, terminations, truncations, infos = [], [], [], [], [], []

    def reset(env, observation, info):
        observations.append(observation)
        infos.append(info)

    def step(env, action, observation, reward, terminated, truncated, info):
        actions.append(action)
        observations.append(observation)
        rewards.append(float(reward))
        terminations.append(terminated)
        truncations.append(truncated)
        infos.append(info)

    try:
        replay_checked(episode, on_reset=reset, on_step=step)
    except NotReplayable as error:
        raise DatasetError(f"Episode {episode.pk} ({episode.instance.env_id}): {error.detail}") from error
    return EpisodeBuffer(
        seed=episode.seed, options=episode.options,
        observations=_stacked(observation_space, observations), actions=_stacked(action_space, actions),
        rewards=rewards, terminations=terminations, truncations=truncations, infos=_common_infos(infos),
    )


def _stacked(space, values):
    """``values`` of ``space`` as Minari's buffers hold them: a list, or a dict or tuple of them for Dict and Tuple spaces."""
    if isinstance(space, spaces.Dict):
        return {key: _stacked(sub, [value[key] for value in values]) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_stacked(sub, [value[index] for value in values]) for index, sub in enumerate(space.spaces))
    return list(values)


def _common_infos(infos):
    """The info keys every state has, each as a list over the states (Minari needs one length for all)."""
    keys = set(infos[0]).intersection(*infos[1:]) if infos else set()
    return {key: [info[key] for info in infos] for key in sorted(keys)}
