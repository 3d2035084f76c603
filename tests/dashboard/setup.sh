#!/usr/bin/env bash
# Makes the dashboard test runnable: Debian's chromium (apt) and playwright-core
# (npm, as package-lock.json pins it) when they are missing. Run by ctest's
# dashboard_setup fixture; CI runs as root on Debian 12 with apt reachable.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x "${SB_CHROMIUM:-/usr/bin/chromium}" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "dashboard: chromium is missing; install it (apt-get install -y chromium) as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium ||
        { apt-get update && apt-get install -y chromium; }
fi
if [ ! -f node_modules/playwright-core/package.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
echo "dashboard: $("${SB_CHROMIUM:-/usr/bin/chromium}" --version 2>/dev/null | head -1), playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version')"
