"""GYMAPI_RECORD: episode records on (the default) or off."""

from envs.models import EnvInstance, Episode


def test_it_records_episodes_by_default(api, make_instance):
    instance_id = make_instance(reset=True)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]:
        pass
    assert Episode.objects.filter(instance_id=instance_id).count() == 1


def test_it_records_no_episode_when_off(api, make_instance, settings):
    settings.GYMAPI_RECORD = False
    instance_id = make_instance(reset=True, reset_seed=1)
    while not api.post(f"/v1/envs/{instance_id}/step/", {"action": 0}).json()["done"]:
        pass
    assert api.post(f"/v1/envs/{instance_id}/reset/", {}).status_code == 200
    assert api.delete(f"/v1/envs/{instance_id}/").status_code == 200
    assert not Episode.objects.filter(instance_id=instance_id).exists()
    assert EnvInstance.objects.get(pk=instance_id).status == "closed"  # the instance itself is still recorded
