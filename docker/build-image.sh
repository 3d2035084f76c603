#!/usr/bin/env bash
# Builds the switchboard image (default tag switchboard:local, the one compose.yaml
# runs): the local base image first when it is missing (docker/base-image.sh), then
# docker/Dockerfile over a context of only the files git knows about, streamed as a
# tar, so build dirs, data/ and node_modules never reach the daemon (no .dockerignore
# needed).
#
#   docker/build-image.sh                 the working tree (tracked + untracked, not ignored)
#   SB_IMAGE_GIT_REF=HEAD docker/build-image.sh   a commit instead (git archive)
#   SB_IMAGE=tag  SB_BASE_IMAGE=tag  SB_BUILD_JOBS=2
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
IMAGE=${SB_IMAGE:-switchboard:local}
BASE=${SB_BASE_IMAGE:-debian:bookworm-slim}
JOBS=${SB_BUILD_JOBS:-2}

SB_BASE_IMAGE=$BASE "$HERE/base-image.sh"

args=(-f docker/Dockerfile --build-arg "BASE=$BASE" --build-arg "JOBS=$JOBS")
# Mirror names only this machine's /etc/hosts knows: tell the build containers too.
while read -r pin; do
    [ -n "$pin" ] && args+=(--add-host "$pin")
done < <("$HERE/apt-sources.sh" --hosts)

cd "$ROOT"
context() { # the build context as a tar on stdout
    if [ -n "${SB_IMAGE_GIT_REF:-}" ]; then
        git archive --format=tar "$SB_IMAGE_GIT_REF"
    elif ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # Not a git checkout (a tarball): everything but build output, data and node_modules.
        tar -c --exclude='./build' --exclude='./build-*' --exclude='./data' \
            --exclude='node_modules' --exclude='./.git' .
    else
        # Files deleted in the working tree but still in the index are skipped.
        git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                [ -e "$f" ] && printf '%s\0' "$f"
            done |
            tar --null --no-recursion -T - -c
    fi
}
start=$(date +%s)
echo "build-image: $IMAGE from ${SB_IMAGE_GIT_REF:-the working tree} (base $BASE)"
# The builder stage gets a tag of its own: its layers (apt, compiled tree) stay the cache
# of the next build, and what earlier builds left untagged can be pruned.
# One snapshot of the tree for both builds (others may be editing it meanwhile).
CTX=$(mktemp "${TMPDIR:-/tmp}/sb-context.XXXXXX.tar")
trap 'rm -f "$CTX"' EXIT
context >"$CTX" || exit 1
repo=${IMAGE%:*}
tag=${IMAGE##*:}
[ "$repo" = "$IMAGE" ] && tag=latest
docker build "${args[@]}" --target builder -t "$repo-builder:$tag" - <"$CTX" || exit 1
docker build "${args[@]}" -t "$IMAGE" - <"$CTX" || exit 1
# Only images of this Dockerfile that no tag or container uses any more.
docker image prune -f --filter label=org.switchboard.image >/dev/null || true
echo "build-image: $IMAGE built in $(($(date +%s) - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
