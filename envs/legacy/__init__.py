"""Legacy mode: /v1 as openai/gym-http-api answered it, so that its client
bindings (Python, Go, Rust, Java, ...) work unchanged against this server.

Mounted in place of the /v1 API when ``GYMAPI_LEGACY_API`` is on
(gymapi/urls.py). It is a translation: every route calls the services and
selectors the /v1 API calls, and only reshapes bodies and errors. What it adds
is the older API's monitor (``services.monitor_start``), which records episodes
with Gymnasium's ``RecordVideo`` into folders under ``MEDIA_ROOT``.
"""
