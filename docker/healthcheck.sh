#!/bin/sh
# Health checks of the switchboard image (compose.yaml's healthcheck: entries).
#   sb-healthcheck http URL          the URL answers 2xx within 3 s (ingress, admin, mock)
#   sb-healthcheck listen PORT...    each TCP port is bound (LISTEN) in this container:
#                                    router (5555 ingress, 5556 validators), logger (5557)
#   sb-healthcheck connected PORT    a TCP connection to remote PORT is established:
#                                    a validator is attached to the router's broker (5556)
#   sb-healthcheck redis             redis answers PING
# ZeroMQ services have no HTTP; whether their sockets are bound or connected is what
# the services around them depend on, and /proc/net/tcp says so without talking to
# them (a ZeroMQ peer that connects just to probe would count as a worker or client).
# A bare process check would add nothing: the container exits with its process.
set -eu

# Ports in state $1 (0A listen, 01 established), column $2 (2 local, 3 remote), decimal.
ports() {
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        awk -v st="$1" -v col="$2" '$4 == st { split($col, a, ":"); print a[2] }' |
        while read -r hex; do printf '%d\n' "0x$hex"; done
}

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
    http)
        exec curl -fsS -o /dev/null --max-time 3 "$1"
        ;;
    listen)
        bound=$(ports 0A 2)
        for p in "$@"; do
            if ! echo "$bound" | grep -qx "$p"; then
                echo "port $p is not bound" >&2
                exit 1
            fi
        done
        echo "listening on $*"
        ;;
    connected)
        if ! ports 01 3 | grep -qx "$1"; then
            echo "no connection to port $1" >&2
            exit 1
        fi
        echo "connected to port $1"
        ;;
    redis)
        [ "$(redis-cli -p 6379 ping)" = PONG ]
        ;;
    *)
        echo "usage: sb-healthcheck http URL | listen PORT... | connected PORT | redis" >&2
        exit 2
        ;;
esac
