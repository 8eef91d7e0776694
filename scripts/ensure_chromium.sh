#!/usr/bin/env sh
# The browser tests drive Debian's chromium at /usr/bin/chromium through
# Playwright, which never downloads a browser of its own. Install it through
# apt when it is missing. Where that is impossible (no root, no apt-get) say
# so and go on: the browser tests then skip, except in CI (CI=true), where
# they fail.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
elif [ "${CI:-}" = "true" ]; then
    echo "/usr/bin/chromium is missing and cannot be installed here (needs root and apt-get); CI needs it." >&2
    exit 1
else
    echo "/usr/bin/chromium is missing (apt-get install chromium); the browser tests will skip." >&2
fi
