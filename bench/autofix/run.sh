#!/bin/sh
# AutoFix benchmark, one command: bench/autofix/run.sh [SECONDS_PER_MEASUREMENT]
# Builds the engine (RelWithDebInfo, -O2) in build-bench-autofix and the C harness
# against it, installs the reference JavaScript pipeline (jsonrepair + ajv) from npm
# if missing, then times both on every auto_fix case of tests/data/autofix in this
# one run and prints throughput, the ratio, and the accuracy of each on the corpus
# (also written to bench/results/autofix/report.md). Not a test: nothing fails.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/results/autofix"
build="$root/build-bench-autofix"
secs=${1:-2}
mkdir -p "$out"

if [ ! -f "$here/node_modules/jsonrepair/package.json" ] || [ ! -f "$here/node_modules/ajv/package.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --silent)
fi
cmake -S "$root" -B "$build" -DSB_PARTS=engine -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target sbengine -j2 >/dev/null
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -I"$root/lib/engine" "$here/bench_autofix.c" \
    "$build/lib/libsbengine.a" $(pkg-config --cflags --libs jansson libpcre2-8 libcrypto) -lm \
    -o "$out/bench_autofix"
cd "$here" && node bench_autofix.mjs "$secs" "$out"
