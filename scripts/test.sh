#!/usr/bin/env bash
# Runs every test: the optimized build's suite (unit, conformance, fuzz replay,
# end-to-end with the real services and the official openai client), then the
# same unit and fuzz tests under ASan + UBSan with libFuzzer (clang). Ends with
# one line: "N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${JOBS:-2}

"$ROOT/scripts/install-deps.sh" --test || { echo "0 passed, 1 failed"; exit 1; }

total_pass=0
total_fail=0
record() { # ctest log file
    local line
    line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$1" | tail -1)
    if [ -z "$line" ]; then
        total_fail=$((total_fail + 1))
        return
    fi
    local failed total
    failed=$(echo "$line" | sed -E 's/.*tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    total=$(echo "$line" | sed -E 's/.*failed out of ([0-9]+).*/\1/')
    total_pass=$((total_pass + total - failed))
    total_fail=$((total_fail + failed))
}

build() { # dir cmake-args...
    local dir=$1; shift
    cmake -S "$ROOT" -B "$dir" "$@" >"$dir.configure.log" 2>&1 \
        && cmake --build "$dir" -j"$JOBS" >"$dir.build.log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then
        tail -40 "$dir.configure.log" "$dir.build.log"
        echo "build of $dir failed"
    fi
    return $rc
}

mkdir -p "$ROOT/build-logs"
# 1. The optimized build and its whole suite.
if build "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
    (cd "$ROOT/build" && ctest --output-on-failure -j"$JOBS" -LE e2e --timeout 600) \
        2>&1 | tee "$ROOT/build-logs/ctest-main.log"
    record "$ROOT/build-logs/ctest-main.log"
    (cd "$ROOT/build" && ctest --output-on-failure -j1 -L e2e --timeout 600) \
        2>&1 | tee "$ROOT/build-logs/ctest-e2e.log"
    record "$ROOT/build-logs/ctest-e2e.log"
else
    total_fail=$((total_fail + 1))
fi

# 2. Sanitizers + libFuzzer: unit, conformance and fuzz tests (no e2e).
if build "$ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DSB_SANITIZE=ON -DSB_FUZZ=ON; then
    (cd "$ROOT/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure -j"$JOBS" -LE e2e --timeout 900) \
        2>&1 | tee "$ROOT/build-logs/ctest-asan.log"
    record "$ROOT/build-logs/ctest-asan.log"
else
    total_fail=$((total_fail + 1))
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
