#!/usr/bin/env bash
# test_admin_api.sh — black-box test of sb-admin: seeding (first start only), the
# admin token (generated, 0600, printed once; SB_ADMIN_TOKEN wins), 401 without
# it, CRUD on channels / model groups / API keys with 400 naming the field, 404
# and 409, API key secrets shown once and never again, provider keys masked,
# 413 over 1 MiB, and a Clone subscriber (sb-clone-watch) getting the new config
# within one second of a PUT.
#
# usage: test_admin_api.sh path/to/sb-admin path/to/sb-clone-watch
set -u
ADMIN=${1:?usage: $0 sb-admin sb-clone-watch}
WATCH=${2:?usage: $0 sb-admin sb-clone-watch}
for tool in curl jq sha256sum ss; do
    command -v $tool > /dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done

TMP=$(mktemp -d /tmp/test_admin_api.XXXXXX)
DATA=$TMP/data
ADMIN_PID=""
pass=0
fail=0

cleanup () {
    [ -n "$ADMIN_PID" ] && kill "$ADMIN_PID" 2> /dev/null && wait "$ADMIN_PID" 2> /dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

ok () { pass=$((pass + 1)); }
no () { fail=$((fail + 1)); echo "FAIL: $*"; }
# check DESCRIPTION GOT WANT
check () { if [ "$2" = "$3" ]; then ok; else no "$1: got [$2], want [$3]"; fi; }
# check_has DESCRIPTION TEXT FRAGMENT
check_has () { case "$2" in *"$3"*) ok ;; *) no "$1: [$2] lacks [$3]" ;; esac; }

free_port () {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        ss -ltn | grep -q ":$p " || { echo $p; return; }
    done
    echo 0
}

# start_admin [VAR=value ...]: starts sb-admin on free ports, waits for /healthz.
start_admin () {
    for attempt in 1 2 3; do
        HTTP_PORT=$(free_port); PUB_PORT=$(free_port); SNAP_PORT=$(free_port)
        PUB=tcp://127.0.0.1:$PUB_PORT
        SNAP=tcp://127.0.0.1:$SNAP_PORT
        env SB_DATA_DIR="$DATA" SB_ADMIN_PORT=$HTTP_PORT SB_ADMIN_HOST=127.0.0.1 \
            SB_ADMIN_PUB_BIND=$PUB SB_ADMIN_SNAPSHOT_BIND=$SNAP "$@" \
            "$ADMIN" >> "$TMP/admin.log" 2>&1 &
        ADMIN_PID=$!
        for _ in $(seq 1 50); do
            curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz" && return 0
            kill -0 $ADMIN_PID 2> /dev/null || break
            sleep 0.1
        done
        kill $ADMIN_PID 2> /dev/null; wait $ADMIN_PID 2> /dev/null; ADMIN_PID=""
    done
    echo "sb-admin did not start:"; cat "$TMP/admin.log"; exit 1
}

stop_admin () {
    kill -TERM $ADMIN_PID; wait $ADMIN_PID; local rc=$?
    ADMIN_PID=""
    check "admin exits cleanly on SIGTERM" $rc 0
}

# req METHOD PATH [BODY] -> $STATUS, $BODY. Every response goes to responses.log
# except those allowed to show a secret once (call with SECRET_OK=1).
req () {
    local method=$1 path=$2 body=${3-}
    local args=(-s -o "$TMP/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $TOKEN")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    STATUS=$(curl "${args[@]}" "http://127.0.0.1:$HTTP_PORT$path")
    BODY=$(cat "$TMP/body")
    if [ "${SECRET_OK:-0}" = 1 ]; then echo "$BODY" >> "$TMP/shown_once.log"
    else echo "$BODY" >> "$TMP/responses.log"; fi
}

PROVIDER_SECRET=sk-test-provider-secret-0001234
SEED_SECRET=sb-seed-secret-0000000001
cat > "$TMP/seed.json" << EOF
{
  "channels": [
    { "name": "primary", "type": "openai", "base_url": "http://127.0.0.1:9/v1",
      "api_key": "$PROVIDER_SECRET", "models": ["m1"], "weight": 10, "priority": 1 },
    { "name": "backup", "type": "anthropic", "base_url": "http://127.0.0.1:9",
      "api_key": "sk-ant-backup-secret-000009876", "models": ["m2"] }
  ],
  "model_groups": [
    { "name": "prod", "channels": ["primary", "backup"], "models": ["m1", "m2"],
      "load_balance_strategy": "weighted" }
  ],
  "api_keys": [ { "name": "seeded", "key": "$SEED_SECRET", "model_groups": ["prod"], "rpm": 60 } ],
  "settings": { "auto_detect_tools": true }
}
EOF

# --- first start: seeding, generated token --------------------------------------
start_admin SB_CONFIG="$TMP/seed.json" SB_ADMIN_TOKEN=
TOKEN_FILE=$DATA/admin.token
check "token file exists" "$(test -f "$TOKEN_FILE" && echo yes)" yes
check "token file mode" "$(stat -c %a "$TOKEN_FILE")" 600
check "store file mode" "$(stat -c %a "$DATA/switchboard.db")" 600
TOKEN=$(cat "$TOKEN_FILE")
check "token printed once" "$(grep -c "generated admin token.*$TOKEN" "$TMP/admin.log")" 1
check "healthz" "$(curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | jq -c .)" '{"status":"ok","seq":1}'

# --- auth --------------------------------------------------------------------------
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/api/channels")
check "no token: 401" "$code" 401
check "401 body type" "$(jq -r .error.type "$TMP/body")" authentication_error
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' \
    "http://127.0.0.1:$HTTP_PORT/api/channels")
check "wrong token: 401" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"name":"sneaky"}' \
    -H "Authorization: Bearer ${TOKEN}x" "http://127.0.0.1:$HTTP_PORT/api/channels")
check "POST with a wrong token: 401" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$HTTP_PORT/api/config")
check "/api/config needs the token and takes it" "$code" 200

# --- seeded content, masking ----------------------------------------------------------
req GET /api/channels
check "seeded channels" "$(jq -c '[.data[].name]' <<< "$BODY")" '["primary","backup"]'
check "provider key masked" "$(jq -r '.data[0].api_key' <<< "$BODY")" "sk-...1234"
req GET /api/model_groups
check "seeded group" "$(jq -c '[.data[].name]' <<< "$BODY")" '["prod"]'
req GET /api/api_keys/seeded
check "seeded key: 200" "$STATUS" 200
check "seeded key has no secret or hash" "$(jq -c '[has("key"), has("key_sha256")]' <<< "$BODY")" \
    '[false,false]'
req GET /api/settings
check "seeded settings" "$(jq -c . <<< "$BODY")" '{"auto_detect_tools":true}'

# --- channels --------------------------------------------------------------------------
req POST /api/channels '{"name":"extra","base_url":"ftp://nowhere","api_key":"sk-extra-secret-00005678"}'
check "bad base_url: 400" "$STATUS" 400
check_has "400 names base_url" "$(jq -r .error.message <<< "$BODY")" base_url
check_has "400 param" "$(jq -r .error.param <<< "$BODY")" base_url
req POST /api/channels '{"base_url":"http://127.0.0.1:9/v1"}'
check "missing name: 400" "$STATUS" 400
check "missing name: param" "$(jq -r .error.param <<< "$BODY")" name
req POST /api/channels '{"name":"extra","base_url":"http://127.0.0.1:9/v1","api_key":"sk-extra-secret-00005678","weight":"heavy"}'
check "bad weight: 400" "$STATUS" 400
check_has "400 names weight" "$(jq -r .error.message <<< "$BODY")" weight
req POST /api/channels '{"name":"extra","base_url":"http://127.0.0.1:9/v1","api_key":"sk-extra-secret-00005678"}'
check "create channel: 201" "$STATUS" 201
check "created channel masked" "$(jq -r .api_key <<< "$BODY")" "sk-...5678"
req POST /api/channels '{"name":"extra","base_url":"http://127.0.0.1:9/v1"}'
check "duplicate channel: 409" "$STATUS" 409
req GET /api/channels/extra
check "read channel" "$STATUS $(jq -r .base_url <<< "$BODY")" "200 http://127.0.0.1:9/v1"
req GET /api/channels/nope
check "unknown channel: 404" "$STATUS" 404
check "404 body type" "$(jq -r .error.type <<< "$BODY")" not_found_error
req PUT /api/channels/nope '{"base_url":"http://127.0.0.1:9/v1"}'
check "PUT unknown channel: 404" "$STATUS" 404
req PUT /api/channels/extra '{"base_url":"http://127.0.0.1:9/v1","priority":-3}'
check "bad priority: 400" "$STATUS" 400
check_has "400 names priority" "$(jq -r .error.message <<< "$BODY")" priority
req PATCH /api/channels/extra '{"weight":7}'
check "patch channel" "$STATUS $(jq -r .weight <<< "$BODY") $(jq -r .api_key <<< "$BODY")" \
    "200 7 sk-...5678"
req DELETE /api/channels/primary
check "delete channel in use: 409" "$STATUS" 409
check_has "409 names the reference" "$(jq -r .error.message <<< "$BODY")" "model_groups[prod]"
req DELETE /api/channels/nope
check "delete unknown channel: 404" "$STATUS" 404

# --- model groups ------------------------------------------------------------------------
req POST /api/model_groups '{"name":"g2","channels":["extra","ghost"]}'
check "group with unknown channel: 400" "$STATUS" 400
check_has "400 names channels" "$(jq -r .error.message <<< "$BODY")" "channels[1]"
req POST /api/model_groups '{"name":"g2","channels":["extra"],"load_balance_strategy":"fastest"}'
check "bad strategy: 400" "$STATUS" 400
check_has "400 names load_balance_strategy" "$(jq -r .error.message <<< "$BODY")" load_balance_strategy
req POST /api/model_groups '{"name":"g2","channels":["extra"],"models":["m3"]}'
check "create group: 201" "$STATUS" 201
req PUT /api/model_groups/g2 '{"channels":["extra","backup"],"models":["m3"],"tool_validation_mode":"auto_fix","enable_tool_validation":true}'
check "update group" "$STATUS $(jq -c .channels <<< "$BODY")" '200 ["extra","backup"]'
req GET /api/model_groups/nope
check "unknown group: 404" "$STATUS" 404

# --- API keys ---------------------------------------------------------------------------
req POST /api/api_keys '{"name":"k1"}'
check "key without groups: 400" "$STATUS" 400
check_has "400 names model_groups" "$(jq -r .error.message <<< "$BODY")" model_groups
req POST /api/api_keys '{"name":"k1","model_groups":["g2"],"key":"short"}'
check "short custom secret: 400" "$STATUS $(jq -r .error.param <<< "$BODY")" "400 key"
SECRET_OK=1 req POST /api/api_keys '{"name":"k1","model_groups":["g2"],"rpm":100}'
check "create key: 201" "$STATUS" 201
K1_SECRET=$(jq -r .key <<< "$BODY")
check "generated secret shape" "$(grep -cE '^sb-[0-9a-f]{32}$' <<< "$K1_SECRET")" 1
check "key hint" "$(jq -r .key_hint <<< "$BODY")" "sb-...${K1_SECRET: -4}"
check "no hash in the answer" "$(jq -r 'has("key_sha256")' <<< "$BODY")" false
req GET /api/api_keys/k1
check "read key: no secret" "$STATUS $(jq -r 'has("key")' <<< "$BODY")" "200 false"
req PUT /api/api_keys/k1 '{"model_groups":["g2"],"key":"sb-my-own-secret-value-1"}'
check "secret via PUT: 400" "$STATUS $(jq -r .error.param <<< "$BODY")" "400 key"
req PATCH /api/api_keys/k1 '{"model_groups":["g2","prod"],"tpm":5000}'
check "patch key" "$STATUS $(jq -c .model_groups <<< "$BODY") $(jq -r 'has("key")' <<< "$BODY")" \
    '200 ["g2","prod"] false'
req PATCH /api/api_keys/k1 '{"model_groups":["nope"]}'
check "key with unknown group: 400" "$STATUS" 400
check_has "400 names the group" "$(jq -r .error.message <<< "$BODY")" "model_groups[0]"
req DELETE /api/model_groups/g2
check "delete group in use: 409" "$STATUS" 409
SECRET_OK=1 req POST /api/api_keys/k1/rotate
check "rotate: 200" "$STATUS" 200
K1_ROTATED=$(jq -r .key <<< "$BODY")
check "rotated secret is new" "$([ "$K1_ROTATED" != "$K1_SECRET" ] && grep -cE '^sb-[0-9a-f]{32}$' <<< "$K1_ROTATED")" 1
SECRET_OK=1 req POST /api/api_keys '{"name":"k2","model_groups":["prod"],"key":"sb-caller-chosen-secret-42"}'
check "custom secret: 201" "$STATUS $(jq -r .key <<< "$BODY")" "201 sb-caller-chosen-secret-42"
req GET /api/api_keys
check "list keys" "$(jq -c '[.data[].name]' <<< "$BODY")" '["seeded","k1","k2"]'
check "list has no secrets" "$(jq -c '[.data[] | has("key") or has("key_sha256")] | any' <<< "$BODY")" false
req DELETE /api/api_keys/k2
check "delete key" "$STATUS $(jq -r .deleted <<< "$BODY")" "200 true"
req GET /api/api_keys/k2
check "deleted key: 404" "$STATUS" 404
req GET /api/config
check "config view seq" "$(jq -r .seq <<< "$BODY")" "$(curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | jq -r .seq)"

# --- malformed input, limits --------------------------------------------------------------
req POST /api/channels 'not json'
check "bad JSON: 400" "$STATUS $(jq -r .error.code <<< "$BODY")" "400 invalid_json"
req GET /api/unknown_things
check "unknown collection: 404" "$STATUS" 404
head -c $((1024 * 1024 + 100)) /dev/zero | tr '\0' 'a' > "$TMP/big"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    --data-binary @"$TMP/big" "http://127.0.0.1:$HTTP_PORT/api/channels")
check "body over 1 MiB: 413" "$code" 413
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")
check "still serving after 413" "$code" 200

# --- Clone: a subscriber sees a PUT within a second ----------------------------------------
"$WATCH" "$PUB" "$SNAP" 2 5000 "$TMP/clone-cache.json" > "$TMP/watch.out" 2> "$TMP/watch.err" &
WATCH_PID=$!
for _ in $(seq 1 50); do [ -s "$TMP/watch.out" ] && break; sleep 0.1; done
SEQ0=$(head -1 "$TMP/watch.out" | sed 's/^seq=\([0-9]*\).*/\1/')
check "subscriber snapshot at the current seq" "$SEQ0" \
    "$(curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | jq -r .seq)"
T0=$(date +%s%6N)
req PUT /api/channels/extra '{"base_url":"http://127.0.0.1:9/v2","api_key":"sk-...5678","weight":3}'
check "PUT for the subscriber" "$STATUS" 200
wait $WATCH_PID
check "subscriber got 2 configs" "$?" 0
LINE=$(sed -n 2p "$TMP/watch.out")
T1=$(sed 's/.*wall_us=\([0-9]*\).*/\1/' <<< "$LINE")
LATENCY_US=$((T1 - T0))
echo "subscriber latency after PUT: ${LATENCY_US} us"
check "latency under 1 s" "$([ $LATENCY_US -lt 1000000 ] && echo yes)" yes
check "update seq" "$(sed 's/^seq=\([0-9]*\).*/\1/' <<< "$LINE")" $((SEQ0 + 1))
CONFIG=$(sed 's/^[^{]*json=//' <<< "$LINE")
check "update carries the change" \
    "$(jq -r '.channels[] | select(.name == "extra") | .base_url' <<< "$CONFIG")" http://127.0.0.1:9/v2
check "masked key sent back keeps the stored one" \
    "$(jq -r '.channels[] | select(.name == "extra") | .api_key' <<< "$CONFIG")" sk-extra-secret-00005678
check "keys reach services as SHA-256" \
    "$(jq -r '.api_keys[] | select(.name == "k1") | .key_sha256' <<< "$CONFIG")" \
    "$(printf %s "$K1_ROTATED" | sha256sum | cut -d' ' -f1)"
check "no plain secrets in the stream" "$(jq -c '[.api_keys[] | has("key")] | any' <<< "$CONFIG")" false
check "subscriber cache written 0600" "$(stat -c %a "$TMP/clone-cache.json")" 600

# --- secrets never shown again -----------------------------------------------------------
for secret in "$PROVIDER_SECRET" sk-extra-secret-00005678 "$SEED_SECRET" "$K1_SECRET" "$K1_ROTATED" \
    sb-caller-chosen-secret-42; do
    check "secret ${secret:0:6}… absent from every other response" \
        "$(grep -cF -- "$secret" "$TMP/responses.log")" 0
done
check "the one-time answers did show them" "$(grep -cF -- "$K1_SECRET" "$TMP/shown_once.log")" 1

# --- restart: no re-seeding, same seq, token not printed again -----------------------------
SEQ_BEFORE=$(curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | jq -r .seq)
stop_admin
cat > "$TMP/other-seed.json" << 'EOF'
{ "channels": [ { "name": "other", "base_url": "http://127.0.0.1:9/v1" } ],
  "model_groups": [ { "name": "o", "channels": ["other"] } ] }
EOF
start_admin SB_CONFIG="$TMP/other-seed.json" SB_ADMIN_TOKEN=
check "restart keeps seq" "$(curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | jq -r .seq)" "$SEQ_BEFORE"
req GET /api/channels
check "restart does not re-seed" "$(jq -c '[.data[].name]' <<< "$BODY")" '["primary","backup","extra"]'
check "token printed only at generation" "$(grep -c 'generated admin token' "$TMP/admin.log")" 1
stop_admin

# --- SB_ADMIN_TOKEN wins over the file ------------------------------------------------------
start_admin SB_ADMIN_TOKEN=env-token-for-the-admin-test
FILE_TOKEN=$TOKEN
TOKEN=env-token-for-the-admin-test
req GET /api/channels
check "env token accepted" "$STATUS" 200
TOKEN=$FILE_TOKEN
req GET /api/channels
check "file token refused when SB_ADMIN_TOKEN is set" "$STATUS" 401
stop_admin

echo "test_admin_api: $pass checks passed, $fail failed"
[ $fail -eq 0 ]
