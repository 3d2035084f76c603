#!/bin/sh
# TOON encoder benchmark, one command: bench/toon/run.sh [SECONDS_PER_MEASUREMENT]
# Builds the C harness against lib/engine/sb_toon.c (-O2, as the RelWithDebInfo
# build), installs the reference @toon-format/toon from npm if missing, generates
# the inputs, times both encoders on them in this one run, checks their outputs
# are byte-identical, and prints the report (also bench/results/toon/report.md).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/results/toon"
secs=${1:-2}
mkdir -p "$out/inputs"

if [ ! -f "$here/node_modules/@toon-format/toon/package.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --silent)
fi
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -I"$root/lib/engine" \
    "$here/bench_toon.c" "$root/lib/engine/sb_toon.c" \
    $(pkg-config --cflags --libs jansson) -lm -o "$out/bench_toon"
node "$here/gen_inputs.mjs" "$out/inputs"
cd "$here" && node bench_toon.mjs "$secs" "$out"
