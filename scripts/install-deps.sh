#!/usr/bin/env bash
# Installs what Switchboard needs on Debian 12, only what is missing.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
set -euo pipefail

PKGS=(build-essential cmake pkg-config git curl ca-certificates
      libzmq3-dev libczmq-dev libwebsockets-dev libcurl4-openssl-dev libmsgpack-dev
      libhiredis-dev libsqlite3-dev libjansson-dev libpcre2-dev libssl-dev
      redis-server)
if [ "${1:-}" = "--test" ]; then
    PKGS+=(clang libclang-rt-14-dev clang-format nginx wrk procps iproute2)
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (end-to-end tests and the dashboard tests use the npm registry).
if [ "${1:-}" = "--test" ] && ! command -v node >/dev/null; then
    missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
