"""``hot``: the settings the step path reads, as plain attributes.

Reading ``django.conf.settings`` goes through its lazy proxy's Python-level
``__getattribute__``, several times the cost of a plain attribute, and a step
read a few settings. ``hot.NAME`` reads ``settings.NAME`` once and keeps it,
until ``setting_changed`` says it changed (``override_settings`` and
pytest-django's ``settings`` fixture send it). Elsewhere, read ``settings``.
"""

from django.conf import settings
from django.core.signals import setting_changed


class HotSettings:
    """Settings copied out of ``django.conf.settings`` at their first read."""

    def __getattr__(self, name):  # only when not copied yet
        value = getattr(settings, name)
        setattr(self, name, value)
        return value

    def forget(self, *, setting, **kwargs):
        """``setting_changed``'s receiver: the next read copies the new value."""
        self.__dict__.pop(setting, None)


hot = HotSettings()
setting_changed.connect(hot.forget)
