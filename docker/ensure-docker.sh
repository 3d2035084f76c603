#!/usr/bin/env bash
# Makes docker usable on a Debian 12 machine (run as root): installs docker.io and
# docker-compose (1.29) when missing, starts dockerd in the background when no daemon
# answers (no systemd needed; log in $SB_DOCKERD_LOG, default /var/log/sb-dockerd.log),
# and waits for it. Exits non-zero, saying why, when docker cannot be made to work.
#   docker/ensure-docker.sh        SB_DOCKERD_WAIT=60 (seconds)
set -uo pipefail
LOG=${SB_DOCKERD_LOG:-/var/log/sb-dockerd.log}
WAIT=${SB_DOCKERD_WAIT:-60}

say() { echo "ensure-docker: $*"; }
die() {
    echo "ensure-docker: FAIL: $*" >&2
    exit 1
}

root=0
[ "$(id -u)" = 0 ] && root=1

# docker info answers: nothing to do (a daemon from systemd, an earlier run, or a socket
# this user may use).
if docker info >/dev/null 2>&1 && { command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; }; then
    say "docker $(docker version -f '{{.Server.Version}}' 2>/dev/null) is running"
    exit 0
fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
    [ $root = 1 ] || die "missing ${missing[*]} and not root: install them (apt-get install docker.io docker-compose)"
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/sb-ensure-docker-apt.log 2>&1; then
        apt-get update -q >>/tmp/sb-ensure-docker-apt.log 2>&1
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/sb-ensure-docker-apt.log 2>&1 ||
            { tail -20 /tmp/sb-ensure-docker-apt.log >&2; die "apt-get install ${missing[*]} failed"; }
    fi
fi

# Installing docker.io starts the daemon where systemd runs; give it a moment.
for _ in 1 2 3 4 5; do
    docker info >/dev/null 2>&1 && break
    [ -S /var/run/docker.sock ] || break
    sleep 1
done
if ! docker info >/dev/null 2>&1; then
    [ $root = 1 ] || die "no docker daemon answers and only root can start one"
    if pgrep -x dockerd >/dev/null; then
        say "dockerd runs but does not answer yet; waiting"
    else
        say "starting dockerd (log: $LOG)"
        mkdir -p "$(dirname "$LOG")"
        # setsid + nohup: the daemon outlives this script and the test that ran it.
        setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
    fi
    for ((i = 0; i < WAIT; i++)); do
        [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1 && break
        if ! pgrep -x dockerd >/dev/null; then
            tail -20 "$LOG" >&2
            die "dockerd exited at start (log above, full log in $LOG)"
        fi
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        tail -20 "$LOG" >&2
        die "dockerd did not answer within ${WAIT}s (log above, full log in $LOG)"
    fi
fi
# A container must really run (cgroups, overlayfs, iptables all fine); hello-world would
# need a registry, so this is checked by the caller with the locally built base image.
say "docker $(docker version -f '{{.Server.Version}}' 2>/dev/null) is running"
