"""Settings of the episode writer process (``manage.py write_episodes``, envs/writer_process.py).

The server's own settings (its module is passed in ``GYMAPI_SERVER_SETTINGS``),
so the writer reaches the same database, with only the app whose rows it
writes: loading the server's apps (DRF, Channels, daphne, Gymnasium's
namespaces) would cost the process some 80 MB for nothing.
"""

import importlib
import os

_server = importlib.import_module(os.environ.get("GYMAPI_SERVER_SETTINGS", "gymapi.settings"))
globals().update({name: value for name, value in vars(_server).items() if name.isupper()})

INSTALLED_APPS = ["envs.apps.EpisodeWriterConfig"]
