#!/usr/bin/env bash
# The container test: compose.yaml end to end with the official openai client.
#  1. docker usable (docker/ensure-docker.sh: install docker.io + docker-compose, start
#     dockerd), the local base image (debootstrap) and the switchboard image built
#  2. `up -d`, every service healthy; JSON + streamed completions of demo-chat and
#     demo-tools through http://127.0.0.1:$PORT/v1 (the broken tool call comes back fixed);
#     Redis append-only, the logger's records in it, kept across a restart of redis
#  3. `up -d --scale validator=4`: four validators attach to the router with no config
#     change, and under concurrent tool-call requests each of the four takes jobs
#     (seen in the validators' own log lines and in admin's /metrics)
#  4. no container restarted on the way; `down -v`
# Fails, saying why, whenever docker cannot run here. Bounded: every step has a timeout
# and the whole run a deadline (SB_COMPOSE_DEADLINE, seconds).
#
# Environment: SB_COMPOSE_CMD ("docker-compose" or "docker compose"; default: the first
# that works), SB_COMPOSE_PROJECT (sbcompose), SB_COMPOSE_OUT (logs; default a temp dir),
# SB_COMPOSE_KEEP=1 (leave the stack up), SB_COMPOSE_SKIP_BUILD=1 (use the image as is),
# SB_COMPOSE_VALIDATORS (4), SB_COMPOSE_DEADLINE (1400).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROJECT=${SB_COMPOSE_PROJECT:-sbcompose}
VALIDATORS=${SB_COMPOSE_VALIDATORS:-4}
DEADLINE=$(($(date +%s) + ${SB_COMPOSE_DEADLINE:-1400}))
OUT=${SB_COMPOSE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/sb-compose-test.XXXXXX")}
mkdir -p "$OUT"
T0=$(date +%s)
STACK_UP=0

log() { echo "[compose +$(($(date +%s) - T0))s] $*"; }
FAILED=""
fail() {
    FAILED="$*"
    echo "[compose +$(($(date +%s) - T0))s] FAIL: $*" >&2
    exit 1
}
left() { # seconds left before the deadline, at most $1 (and at least 1)
    local l=$((DEADLINE - $(date +%s)))
    [ "$l" -gt "$1" ] && l=$1
    [ "$l" -lt 1 ] && l=1
    echo "$l"
}
check_deadline() {
    [ "$(date +%s)" -lt "$DEADLINE" ] || fail "out of time (SB_COMPOSE_DEADLINE=${SB_COMPOSE_DEADLINE:-1400} s)"
}
# run SECONDS what cmd... — a step with a timeout; its output goes to $OUT/step-N.log.
STEP=0
run() {
    local secs=$1 what=$2
    shift 2
    check_deadline
    STEP=$((STEP + 1))
    local file="$OUT/step-$STEP.log" start=$(date +%s) rc
    timeout --kill-after=10 "$(left "$secs")" "$@" >"$file" 2>&1
    rc=$?
    if [ $rc != 0 ]; then
        tail -40 "$file" >&2
        [ $rc = 124 ] && fail "$what: timed out (output above; all of it in $file)"
        fail "$what: exit $rc (output above; all of it in $file)"
    fi
    log "$what: ok ($(($(date +%s) - start)) s)"
}

cd "$ROOT" || fail "no $ROOT"

# ---- 1. docker, images ----------------------------------------------------------
command -v timeout >/dev/null || fail "coreutils timeout is missing"
run 600 "docker usable" "$ROOT/docker/ensure-docker.sh"
if [ -n "${SB_COMPOSE_CMD:-}" ]; then
    read -r -a DC <<<"$SB_COMPOSE_CMD"
elif command -v docker-compose >/dev/null; then
    DC=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    DC=(docker compose)
else
    fail "neither docker-compose nor the docker compose plugin is installed"
fi
DC+=(-p "$PROJECT" -f "$ROOT/compose.yaml")
log "compose: ${DC[*]} ($("${DC[0]}" version --short 2>/dev/null || "${DC[@]:0:2}" version --short 2>/dev/null))"

if [ "${SB_COMPOSE_SKIP_BUILD:-0}" = 1 ]; then
    docker image inspect switchboard:local >/dev/null 2>&1 || fail "SB_COMPOSE_SKIP_BUILD=1 but there is no switchboard:local"
else
    # The base image takes ~1 min (debootstrap) the first time; the image build reuses
    # its apt layers afterwards and recompiles only when the sources changed.
    run 900 "base image debian:bookworm-slim" "$ROOT/docker/base-image.sh"
    run 900 "image switchboard:local" "$ROOT/docker/build-image.sh"
fi
# A container must really run here (cgroups, overlayfs, networking).
run 60 "a container runs" docker run --rm --network none switchboard:local sb-mock --help

# ---- 2. the stack ---------------------------------------------------------------
# Host ports: 8080 and 8081 as in the README, or free ones when something else has them.
port_free() {
    node -e "const s=require('net').createServer();s.once('error',()=>process.exit(1));s.listen($1,'127.0.0.1',()=>s.close())" 2>/dev/null
}
free_port() {
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
command -v node >/dev/null || fail "node is needed (the openai client)"
command -v curl >/dev/null || fail "curl is needed"

dump() {
    "${DC[@]}" ps >"$OUT/ps.txt" 2>&1
    "${DC[@]}" logs --no-color --timestamps >"$OUT/compose.log" 2>&1
    echo "--- ${DC[*]} ps" >&2
    cat "$OUT/ps.txt" >&2
    echo "--- last lines of the services' logs (all of it in $OUT/compose.log)" >&2
    tail -60 "$OUT/compose.log" >&2
}
teardown() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$STACK_UP" = 1 ]; then
        [ $rc != 0 ] && dump
        if [ "${SB_COMPOSE_KEEP:-0}" = 1 ]; then
            log "SB_COMPOSE_KEEP=1: the stack stays up (${DC[*]} down -v)"
        else
            "${DC[@]}" logs --no-color --timestamps >"$OUT/compose.log" 2>&1
            timeout 180 "${DC[@]}" down -v --remove-orphans -t 10 >"$OUT/down.log" 2>&1 &&
                log "down -v: ok" || echo "compose down failed: see $OUT/down.log" >&2
        fi
    fi
    [ -n "${EVENTS_PID:-}" ] && kill "$EVENTS_PID" 2>/dev/null
    if [ $rc = 0 ]; then
        log "PASS (logs in $OUT)"
    else
        echo "[compose +$(($(date +%s) - T0))s] FAILED: ${FAILED:-exit $rc} (logs in $OUT)" >&2
    fi
    exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

HTTP_PORT=8080
ADMIN_PORT=8081
port_free $HTTP_PORT || HTTP_PORT=$(free_port)
port_free $ADMIN_PORT || ADMIN_PORT=$(free_port)
export SB_HTTP_PORT=$HTTP_PORT SB_ADMIN_PORT=$ADMIN_PORT SB_PUBLISH_ADDR=127.0.0.1
export SB_ADMIN_TOKEN="sbadm-compose-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export SB_IMAGE=switchboard:local
unset SB_VALIDATOR_THREADS # compose's default: one worker per validator container
API=http://127.0.0.1:$HTTP_PORT/v1
ADMIN=http://127.0.0.1:$ADMIN_PORT
log "API $API, admin $ADMIN, project $PROJECT"

# Leftovers of an earlier run that was killed.
timeout 180 "${DC[@]}" down -v --remove-orphans -t 5 >"$OUT/down-before.log" 2>&1
STACK_UP=1
# Every container exit with its code, for the record (a crash is 134, 139, ...).
timeout "$(left 1500)" docker events --filter "label=com.docker.compose.project=$PROJECT" \
    --filter event=die --format '{{.Actor.Attributes.name}} exit {{.Actor.Attributes.exitCode}}' \
    >"$OUT/exits.log" 2>&1 &
EVENTS_PID=$!
run 300 "up -d" "${DC[@]}" up -d --no-build

# wait_healthy SECONDS SERVICE=COUNT... — every container of the project healthy and
# the named services with that many containers.
wait_healthy() {
    local secs=$1
    shift
    local until=$(($(date +%s) + $(left "$secs"))) states
    while :; do
        local ok=1 ids
        ids=$("${DC[@]}" ps -q 2>/dev/null)
        states=$(for id in $ids; do
            docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" 2>/dev/null
        done)
        [ -n "$states" ] || ok=0
        echo "$states" | grep -qv ' running healthy$' && ok=0
        for want in "$@"; do
            local svc=${want%=*} n=${want#*=} have
            have=$("${DC[@]}" ps -q "$svc" 2>/dev/null | grep -c .)
            [ "$have" = "$n" ] || ok=0
        done
        if [ $ok = 1 ]; then
            log "healthy: $(echo "$states" | awk '{ sub(/^\//, "", $1); printf "%s%s", sep, $1; sep = " " }')"
            return 0
        fi
        if [ "$(date +%s)" -ge "$until" ]; then
            echo "$states" >&2
            fail "not every service became healthy within ${secs}s"
        fi
        # A service that exits at start will not get better (restart: unless-stopped
        # shows it as restarting).
        if echo "$states" | grep -qE ' (exited|dead|restarting) '; then
            echo "$states" >&2
            fail "a service exited"
        fi
        sleep 2
    done
}
wait_healthy 180 redis=1 mock=1 admin=1 logger=1 router=1 validator=1 ingress=1

if [ ! -f "$HERE/node_modules/openai/package.json" ]; then
    command -v npm >/dev/null || fail "npm is needed to install the openai client"
    run 300 "npm ci (openai client)" npm ci --prefix "$HERE" --no-audit --no-fund --loglevel=error
fi
log "openai client: JSON and streamed completions"
timeout "$(left 120)" node "$HERE/client.mjs" demo "$API" | sed 's/^/    /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "the openai client checks failed"

# Redis: append-only, in its named volume; the logger's records of those requests are
# there and survive a restart of the redis container.
rcli() { "${DC[@]}" exec -T redis redis-cli "$@" 2>/dev/null | tr -d '\r'; }
[ "$(rcli config get appendonly | tail -1)" = yes ] || fail "redis runs without appendonly"
keys=0
for _ in $(seq 1 20); do
    keys=$(rcli dbsize)
    [ "${keys:-0}" -gt 0 ] 2>/dev/null && break
    sleep 0.5
done
[ "${keys:-0}" -gt 0 ] 2>/dev/null || fail "nothing reached Redis (logger -> redis)"
run 60 "stop redis" "${DC[@]}" stop -t 10 redis
run 60 "start redis" "${DC[@]}" start redis
wait_healthy 60 redis=1
after=$(rcli dbsize)
[ "${after:-0}" -ge "$keys" ] 2>/dev/null || fail "Redis had $keys keys before a restart and ${after:-none} after"
log "redis: appendonly yes; $keys keys from the logger, $after after a restart"

# ---- 3. --scale validator=N ---------------------------------------------------------
run 300 "up -d --scale validator=$VALIDATORS" "${DC[@]}" up -d --no-build --scale "validator=$VALIDATORS"
wait_healthy 120 "validator=$VALIDATORS"

# admin's /metrics: the router's broker count and each validator's job counter (one
# snapshot a second per instance). Empty when admin has no metrics.
metrics() {
    curl -fsS --max-time 5 -H "Authorization: Bearer $SB_ADMIN_TOKEN" "$ADMIN/metrics" 2>/dev/null
}
workers=""
for _ in $(seq 1 30); do
    workers=$(metrics | awk '/^sb_validator_workers[{ ]/ { print $NF }' | head -1)
    [ "$workers" = "$VALIDATORS" ] && break
    sleep 1
done
if [ -z "$workers" ]; then
    log "admin /metrics has no sb_validator_workers: the validators' logs are the evidence"
elif [ "$workers" = "$VALIDATORS" ]; then
    log "router: sb_validator_workers $workers"
else
    fail "the router sees $workers validator workers, not $VALIDATORS"
fi

# The validator containers' hostnames are their short ids; a validator's instance is
# validator-<hostname>-<pid>, in its log lines and its metrics.
mapfile -t VIDS < <("${DC[@]}" ps -q validator | cut -c1-12)
[ ${#VIDS[@]} = "$VALIDATORS" ] || fail "${#VIDS[@]} validator containers, not $VALIDATORS"

# Validators that took jobs, per /metrics: "instance jobs" lines.
jobs_metrics() {
    metrics | sed -nE 's/^sb_validator_jobs\{.*instance="([^"]+)".*kind="validate".*\} ([0-9.e+]+)$/\1 \2/p'
}
# The validators print "validator: <instance>: N validation jobs, M TOON jobs done"
# every 10 s when the count changed (and when they stop).
jobs_logs() {
    "${DC[@]}" logs --no-color validator 2>/dev/null |
        sed -nE 's/.*validator: (validator-[^:]+): ([0-9]+) validation jobs.*/\1 \2/p'
}
# busy BASELINE — "instance jobs" lines on stdin; prints how many of this run's validator
# containers went past their count in BASELINE ("instance jobs" lines), i.e. took jobs
# of the load below (the first validator did some before scaling).
busy() {
    awk 'NR == FNR { if ($2 > base[$1]) base[$1] = $2; next }
         $2 > base[$1] + 0 { split($1, a, "-"); if (!(a[2] in seen)) { seen[a[2]] = 1; print a[2] } }' \
        "$1" - | grep -cxF -f <(printf '%s\n' "${VIDS[@]}")
}
BASELINE="$OUT/jobs-before-load.txt"
{ jobs_metrics; jobs_logs; } >"$BASELINE"

# The broker hands a job to an idle worker; only concurrent requests keep several busy.
rounds=0
while :; do
    rounds=$((rounds + 1))
    check_deadline
    timeout "$(left 180)" node "$HERE/client.mjs" load "$API" 300 32 | sed 's/^/    /'
    [ "${PIPESTATUS[0]}" = 0 ] || fail "tool-call requests failed after scaling"
    sleep 2 # one metrics snapshot
    m=$(jobs_metrics | busy "$BASELINE")
    log "round $rounds: validators with new jobs per /metrics: $m of $VALIDATORS"
    [ "$m" = "$VALIDATORS" ] && break
    if [ -z "$(jobs_metrics)" ] || [ $rounds -ge 5 ]; then break; fi
done

# The validators' own words: each container logs its count every 10 s when it changed.
log "waiting for the validators' job lines (printed every 10 s)"
n=0
for _ in $(seq 1 30); do
    n=$(jobs_logs | busy "$BASELINE")
    [ "$n" = "$VALIDATORS" ] && break
    sleep 1
done
echo "    validators' log lines (last per instance; before the load: $(awk '!($1 in m) || $2 > m[$1] { m[$1] = $2 } END { for (i in m) printf "%s=%s ", i, m[i] }' "$BASELINE"))"
jobs_logs | awk '{ last[$1] = $2 } END { for (i in last) printf "      %s: %s validation jobs\n", i, last[i] }' | sort
if [ -n "$(jobs_metrics)" ]; then
    echo "    admin /metrics sb_validator_jobs{kind=\"validate\"}:"
    jobs_metrics | sort | sed 's/^/      /'
    [ "$m" = "$VALIDATORS" ] || fail "only $m of $VALIDATORS validators took jobs per /metrics"
fi
[ "$n" = "$VALIDATORS" ] || fail "only $n of $VALIDATORS validator containers logged jobs of the load"
log "all $VALIDATORS validators took jobs of the load (their logs$([ -n "$(jobs_metrics)" ] && echo ' and /metrics'))"

# ---- 4. nothing restarted, down -------------------------------------------------
restarts=$(for id in $("${DC[@]}" ps -q); do docker inspect -f '{{.Name}} {{.RestartCount}}' "$id"; done | awk '$2 > 0')
if [ -n "$restarts" ]; then
    echo "container exits seen:" >&2
    cat "$OUT/exits.log" >&2
    fail "containers restarted during the test (a crash hidden by restart: unless-stopped): $(echo $restarts)"
fi
log "no container restarted"
