"""DRF's browsable API (the HTML pages /v1 answers a browser with), made to help a person:
example bodies in the forms, links from instance lists to their instances, a filter form
for the registry. Only the HTML page changes: the JSON of every route is what it was.

The page's template is templates/rest_framework/api.html (the site's header and links).
"""

import json

from rest_framework import renderers

# Example bodies for the raw-data forms, by (viewset basename, action): what a first request could send.
EXAMPLES = {
    ("env", "create"): {"env_id": "CartPole-v1", "render_mode": "rgb_array", "seed": 42},
    ("env", "reset"): {"seed": 42},
    ("env", "step"): {"action": 0},
    ("env", "action_space_contains"): {"x": 0},
    ("env", "observation_space_contains"): {"x": [0.0, 0.0, 0.0, 0.0]},
    ("vector_env", "create"): {"env_id": "CartPole-v1", "num_envs": 4, "seed": 42},
    ("vector_env", "reset"): {"seed": 42},
    ("vector_env", "step"): {"action": [0, 1, 0, 1]},
}
# Lists of active instances ({instance_id: ...}) by viewset basename, and where a person watches one.
INSTANCE_LISTS = {"env": "/monitor/{id}/", "vector_env": None}
# Lists filtered by a query parameter (the registry's ?q=), by basename: (parameter, what it matches).
SEARCHES = {"registry": ("q", "part of an environment id, any case")}


def _action(view, method):
    """The viewset action that ``method`` calls on ``view``'s route (the list route's POST is "create")."""
    action_map = getattr(view, "action_map", None) or {}
    return action_map.get(method.lower())


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API with example bodies, instance links and the registry's filter form."""

    def get_raw_data_form(self, data, view, method, request):
        """DRF's raw-data form, holding an example body for the action when one is known."""
        form = super().get_raw_data_form(data, view, method, request)
        example = EXAMPLES.get((getattr(view, "basename", None), _action(view, method)))
        if form is not None and example is not None:
            form.fields["_content"].initial = json.dumps(example, indent=4)
        return form

    def get_context(self, data, accepted_media_type, renderer_context):
        """DRF's context, plus ``instance_links`` on lists of instances and ``search`` on searchable lists."""
        context = super().get_context(data, accepted_media_type, renderer_context)
        view, request = renderer_context["view"], renderer_context["request"]
        basename = getattr(view, "basename", None)
        if getattr(view, "action", None) != "list" or renderer_context["response"].status_code != 200:
            return context
        if basename in INSTANCE_LISTS and isinstance(data, dict):
            context["instance_links"] = self.instance_links(request.path, data, INSTANCE_LISTS[basename])
        if basename in SEARCHES:
            parameter, help_text = SEARCHES[basename]
            context["search"] = {
                "parameter": parameter,
                "value": request.query_params.get(parameter, ""),
                "help": help_text,
                "count": len(data) if isinstance(data, list) else None,
            }
        return context

    @staticmethod
    def instance_links(list_path, data, watch_page):
        """[{instance_id, label, api, watch}] for a list answered as {instance_id: env_id or details}."""
        links = []
        for instance_id, value in data.items():
            label = value if isinstance(value, str) else value.get("env_id", "") if isinstance(value, dict) else ""
            if isinstance(value, dict) and value.get("num_envs"):
                label = f"{label} × {value['num_envs']}"
            links.append(
                {
                    "instance_id": instance_id,
                    "label": label,
                    "api": f"{list_path.rstrip('/')}/{instance_id}/",
                    "watch": watch_page.format(id=instance_id) if watch_page else None,
                }
            )
        return links
