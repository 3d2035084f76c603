#!/bin/sh
# Entrypoint of the switchboard image: one image, one service per container.
#   ingress | router | validator | logger | admin   the Switchboard service (env: README.md)
#   mock                                            the mock provider on 0.0.0.0:${SB_MOCK_PORT:-9090}
#   redis                                           redis-server, append-only, data in $SB_DATA_DIR
#   anything else                                   run as given (sh, sb-cli, ...)
# Extra arguments after the service name go to the program.
set -eu
: "${SB_DATA_DIR:=/data}"
export SB_DATA_DIR
# The data dir is a named volume for redis, admin and logger; elsewhere it holds
# the config cache (router, ingress) or nothing.
mkdir -p "$SB_DATA_DIR" 2>/dev/null || true

service=${1:-}
[ $# -gt 0 ] && shift
case "$service" in
    ingress | router | validator | logger | admin)
        exec "sb-$service" "$@"
        ;;
    mock)
        exec sb-mock --host 0.0.0.0 --port "${SB_MOCK_PORT:-9090}" "$@"
        ;;
    redis)
        # AOF on (every write logged, fsync once a second); no RDB snapshots. Reachable
        # only on the compose network (no port is published), so no protected mode.
        exec redis-server --bind 0.0.0.0 --port 6379 --protected-mode no \
            --dir "$SB_DATA_DIR" --appendonly yes --appendfsync everysec --save "" "$@"
        ;;
    "")
        echo "usage: <ingress|router|validator|logger|admin|mock|redis> [args...] | <command>" >&2
        exit 2
        ;;
    *)
        exec "$service" "$@"
        ;;
esac
