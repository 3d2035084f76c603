#!/usr/bin/env bash
# Starts the whole stack in the foreground: Redis (unless one answers already),
# the mock provider, router, validator, logger and ingress. Ctrl-C stops all of it.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SB_BIN_DIR:-$ROOT/build/bin}
export SB_CONFIG=${SB_CONFIG:-$ROOT/config/demo.json}
export SB_DATA_DIR=${SB_DATA_DIR:-$ROOT/data}
export SB_HTTP_PORT=${SB_HTTP_PORT:-8080}
export SB_ADMIN_PORT=${SB_ADMIN_PORT:-8081}
export SB_REDIS_URL=${SB_REDIS_URL:-redis://127.0.0.1:6379}
MOCK_PORT=${SB_MOCK_PORT:-9090}
# Services take their config from admin (Clone pattern); SB_CONFIG seeds admin's store.
export SB_ADMIN_PUB_ENDPOINT=${SB_ADMIN_PUB_ENDPOINT:-tcp://127.0.0.1:5560}
export SB_ADMIN_SNAPSHOT_ENDPOINT=${SB_ADMIN_SNAPSHOT_ENDPOINT:-tcp://127.0.0.1:5561}
export SB_ADMIN_PUB_BIND=${SB_ADMIN_PUB_BIND:-$SB_ADMIN_PUB_ENDPOINT}
export SB_ADMIN_SNAPSHOT_BIND=${SB_ADMIN_SNAPSHOT_BIND:-$SB_ADMIN_SNAPSHOT_ENDPOINT}
mkdir -p "$SB_DATA_DIR/logs"

PIDS=()
stop() {
    trap - INT TERM EXIT
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    echo "switchboard: stopped"
}
trap stop EXIT
trap 'exit 0' INT TERM

start() { # name command...
    local name=$1; shift
    "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    PIDS+=($!)
}

redis_host=$(echo "$SB_REDIS_URL" | sed -E 's#redis://([^:/]+).*#\1#')
redis_port=$(echo "$SB_REDIS_URL" | sed -nE 's#redis://[^:/]+:([0-9]+).*#\1#p')
redis_port=${redis_port:-6379}
if ! (exec 3<>"/dev/tcp/$redis_host/$redis_port") 2>/dev/null; then
    mkdir -p "$SB_DATA_DIR/redis"
    start redis redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$SB_DATA_DIR/redis" \
        --appendonly yes --save ""
fi
start admin "$BIN/sb-admin"
start mock "$BIN/sb-mock" --port "$MOCK_PORT"
start router "$BIN/sb-router"
start validator "$BIN/sb-validator"
start logger "$BIN/sb-logger"
start ingress "$BIN/sb-ingress"

for i in $(seq 1 50); do
    curl -fs "http://127.0.0.1:$SB_HTTP_PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
cat <<MSG

Switchboard is up.
  API        http://127.0.0.1:$SB_HTTP_PORT/v1   (key: sb-demo, models: demo-chat, demo-tools)
  admin      http://127.0.0.1:$SB_ADMIN_PORT/     (token: \$SB_ADMIN_TOKEN, or $SB_DATA_DIR/admin.token)
  health     http://127.0.0.1:$SB_HTTP_PORT/readyz
  provider   mock at http://127.0.0.1:$MOCK_PORT/v1
  Ctrl-C stops everything.

MSG
wait -n
echo "switchboard: a service exited; stopping the rest"
