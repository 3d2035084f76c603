#!/usr/bin/env bash
# The request-path benchmark, in one run on this machine (not a test):
#   (a) wrk -> nginx mock upstream (fixed 646 B chat.completion)
#   (b) wrk -> nginx reverse proxy (1 worker, keepalive pool) -> nginx mock
#   (c) wrk -> Switchboard (ingress -> router -> nginx mock), one channel
#   (d) wrk -> Switchboard with a 4-channel weighted group with a priority tier
# at c=1, 32 and 128, with the ~1 KB chat request of ../shared/peers/chat_request.lua;
# then time to first streamed byte, sb-mock direct vs through Switchboard.
# Prints a table and the ratios the issue sets targets for.
# Env: DURATION (s per run, default 5), ROUNDS (runs per point, 3; the median is
#      reported), WARMUP (s, 2), CONNS ("1 32 128"), LOGGER=1 to run the
#      logger + Redis during the run (the production shape), TTFB_N (samples, 200).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
BIN=${SB_BIN_DIR:-$ROOT/build/bin}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-"1 32 128"}
TTFB_N=${TTFB_N:-200}
LUA=$PEERS/chat_request.lua
for cmd in nginx wrk curl; do command -v $cmd >/dev/null || { echo "missing $cmd"; exit 1; }; done
[ -x "$BIN/sb-ingress" ] || { echo "build first (make build)"; exit 1; }

RUN=$(mktemp -d /tmp/sb-bench.XXXXXX)
mkdir -p "$RUN/mock" "$RUN/proxy"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nginx -p "$RUN/mock/" -c "$PEERS/nginx_mock.conf" -e "$RUN/mock/error.log" 2>/dev/null &
PIDS+=($!)
nginx -p "$RUN/proxy/" -c "$PEERS/nginx_proxy.conf" -e "$RUN/proxy/error.log" 2>/dev/null &
PIDS+=($!)
MOCK_PORT=19190
"$BIN/sb-mock" --port $MOCK_PORT >"$RUN/sbmock.log" 2>&1 &
PIDS+=($!)
sed "s/@MOCK_PORT@/$MOCK_PORT/" "$HERE/stream-config.json.in" >"$RUN/stream-config.json"

# gateway NAME CONFIG HTTP_PORT BASEPORT: router + ingress (+ logger when LOGGER=1)
gateway() {
    local name=$1 config=$2 port=$3 base=$4
    SB_CONFIG=$config SB_ROUTER_BIND=tcp://127.0.0.1:$base SB_VALIDATOR_BIND=tcp://127.0.0.1:$((base + 1)) \
        SB_LOGGER_ENDPOINT=tcp://127.0.0.1:$((base + 2)) "$BIN/sb-router" >"$RUN/$name-router.log" 2>&1 &
    PIDS+=($!)
    SB_CONFIG=$config SB_HTTP_PORT=$port SB_HTTP_HOST=127.0.0.1 SB_ROUTER_ENDPOINT=tcp://127.0.0.1:$base \
        "$BIN/sb-ingress" >"$RUN/$name-ingress.log" 2>&1 &
    PIDS+=($!)
    if [ "${LOGGER:-0}" = 1 ]; then
        SB_LOGGER_BIND=tcp://127.0.0.1:$((base + 2)) SB_REDIS_URL=redis://127.0.0.1:16399 \
            "$BIN/sb-logger" >"$RUN/$name-logger.log" 2>&1 &
        PIDS+=($!)
    fi
}
if [ "${LOGGER:-0}" = 1 ]; then
    redis-server --port 16399 --bind 127.0.0.1 --save "" --appendonly no >"$RUN/redis.log" 2>&1 &
    PIDS+=($!)
fi
gateway single "$HERE/bench-config.json" 18082 25555
gateway multi "$HERE/bench-config-multi.json" 18083 25565
gateway stream "$RUN/stream-config.json" 18084 25575

AUTH='Authorization: Bearer sk-mock-benchmark-key-0000000000000000'
wait_ok() {
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$1" -H "$AUTH" \
            -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}')" = 200 ] && return 0
        sleep 0.1
    done
    echo "not answering: $1"
    exit 1
}
declare -A URL=(
    [a-direct]=http://127.0.0.1:18080/v1/chat/completions
    [b-nginx]=http://127.0.0.1:18081/v1/chat/completions
    [c-switchboard]=http://127.0.0.1:18082/v1/chat/completions
    [d-switchboard-4ch]=http://127.0.0.1:18083/v1/chat/completions
)
for t in a-direct b-nginx c-switchboard d-switchboard-4ch; do wait_ok "${URL[$t]}"; done

# Each point is measured ROUNDS times, the targets taking turns (a b c d, a b c d, ...),
# and the median is reported: this machine's speed drifts over tens of seconds, and
# turns put every target through the same drift.
declare -A RPS P50 P99 ERR
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
for c in $CONNS; do
    threads=$((c < 2 ? 1 : 2))
    declare -A R5 L5 L9
    for t in a-direct b-nginx c-switchboard d-switchboard-4ch; do
        wrk -t$threads -c$c -d${WARMUP}s -s "$LUA" "${URL[$t]}" >/dev/null 2>&1
        R5[$t]=""; L5[$t]=""; L9[$t]=""; ERR[$t,$c]=0
    done
    for r in $(seq "$ROUNDS"); do
        for t in a-direct b-nginx c-switchboard d-switchboard-4ch; do
            out=$(wrk -t$threads -c$c -d${DURATION}s --latency -s "$LUA" "${URL[$t]}" 2>&1 | grep '^RESULT')
            R5[$t]+=" $(echo "$out" | sed -E 's/.* rps=([0-9.]+).*/\1/')"
            L5[$t]+=" $(echo "$out" | sed -E 's/.* p50_ms=([0-9.]+).*/\1/')"
            L9[$t]+=" $(echo "$out" | sed -E 's/.* p99_ms=([0-9.]+).*/\1/')"
            e=$(echo "$out" | awk '{e=0; for(i=1;i<=NF;i++) if ($i ~ /^err_/) {split($i,a,"="); e+=a[2]} print e}')
            ERR[$t,$c]=$((ERR[$t,$c] + ${e:-1}))
        done
    done
    for t in a-direct b-nginx c-switchboard d-switchboard-4ch; do
        RPS[$t,$c]=$(echo "${R5[$t]}" | median)
        P50[$t,$c]=$(echo "${L5[$t]}" | median)
        P99[$t,$c]=$(echo "${L9[$t]}" | median)
    done
done

echo
echo "## Request path, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m): median of $ROUNDS runs of ${DURATION}s per point (errors: sum)"
echo
printf "| target | c | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|\n"
for c in $CONNS; do
    for t in a-direct b-nginx c-switchboard d-switchboard-4ch; do
        printf "| %s | %s | %s | %s | %s | %s |\n" "$t" "$c" "${RPS[$t,$c]}" "${P50[$t,$c]}" "${P99[$t,$c]}" "${ERR[$t,$c]}"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
echo
for c in $CONNS; do
    echo "- c=$c: Switchboard / direct = $(ratio "${RPS[c-switchboard,$c]}" "${RPS[a-direct,$c]}"), Switchboard / nginx proxy = $(ratio "${RPS[c-switchboard,$c]}" "${RPS[b-nginx,$c]}"), 4-channel / 1-channel = $(ratio "${RPS[d-switchboard-4ch,$c]}" "${RPS[c-switchboard,$c]}")"
done
if [[ " $CONNS " == *" 1 "* ]]; then
    echo "- c=1 latency added over direct: p50 $(diff_ms "${P50[c-switchboard,1]}" "${P50[a-direct,1]}") ms, p99 $(diff_ms "${P99[c-switchboard,1]}" "${P99[a-direct,1]}") ms"
fi
if [[ " $CONNS " == *" 128 "* ]]; then
    echo "- c=128 errors through Switchboard: ${ERR[c-switchboard,128]} (4-channel: ${ERR[d-switchboard-4ch,128]})"
fi

# Time to first streamed byte: sb-mock direct vs through Switchboard (median of TTFB_N).
ttfb() { # url auth-header
    local i
    for i in $(seq 1 "$TTFB_N"); do
        curl -s -N -o /dev/null -w '%{http_code} %{time_starttransfer}\n' -X POST "$1" -H "$2" \
            -H 'Content-Type: application/json' \
            -d '{"model":"mock-chat","stream":true,"messages":[{"role":"user","content":"hello"}],"mock":{"chunks":3}}'
    done | awk '$1 != 200 { bad++ } $1 == 200 { print $2 } END { if (bad) print "FAILED " bad > "/dev/stderr" }' \
        | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan nan"; exit }
                         m = int((NR + 1) / 2); q = int(NR * 0.99); if (q < 1) q = 1
                         printf "%.3f %.3f", a[m] * 1000, a[q] * 1000 }'
}
wait_stream() {
    for i in $(seq 1 100); do
        curl -fs -o /dev/null -X POST "$1" -H "$AUTH" -d '{"model":"mock-chat","messages":[{"role":"user","content":"x"}]}' && return 0
        sleep 0.1
    done
}
wait_stream http://127.0.0.1:18084/v1/chat/completions
read -r d50 d99 <<<"$(ttfb http://127.0.0.1:$MOCK_PORT/v1/chat/completions 'Authorization: Bearer sk-s')"
read -r s50 s99 <<<"$(ttfb http://127.0.0.1:18084/v1/chat/completions "$AUTH")"
echo "- time to first streamed byte (median / p99 of $TTFB_N): direct $d50 / $d99 ms, through Switchboard $s50 / $s99 ms, added $(diff_ms "$s50" "$d50") ms at the median"
