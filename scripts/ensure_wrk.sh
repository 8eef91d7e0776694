#!/usr/bin/env sh
# `make bench` drives the REST step with Debian's wrk. Install it through apt
# when it is missing; where that is impossible (no root, no apt-get), say so.
set -eu

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's wrk for the benchmark..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
else
    echo "wrk is missing and cannot be installed here (apt-get install wrk needs root)." >&2
    exit 1
fi
