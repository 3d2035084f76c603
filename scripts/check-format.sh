#!/usr/bin/env bash
# Fails when any tracked C file differs from the repo's .clang-format.
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find proto lib services tools tests -name '*.[ch]')
clang-format --dry-run --Werror $files
