#!/usr/bin/env bash
# Builds the local base image (default tag debian:bookworm-slim) without any image
# registry: debootstrap --variant=minbase from the Debian mirror this machine's apt
# uses, trimmed like the official slim image, then `docker import`. Does nothing when
# the tag exists already (--force rebuilds it). Needs root and a running dockerd.
#
#   docker/base-image.sh [--force]
#   SB_BASE_IMAGE=tag   MIRROR=http://...   (defaults: debian:bookworm-slim, from apt's sources)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TAG=${SB_BASE_IMAGE:-debian:bookworm-slim}
FORCE=0
[ "${1:-}" = --force ] && FORCE=1

if [ $FORCE = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base-image: $TAG is present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "base-image: debootstrap needs root" >&2
    exit 1
fi
MIRROR=${MIRROR:-$("$HERE/apt-sources.sh" --mirror)}
if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi

ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/sb-rootfs-bookworm.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
echo "base-image: debootstrap bookworm from $MIRROR"
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1; then
    tail -30 "$ROOTFS.log" >&2
    echo "base-image: debootstrap failed (log above, full log in $ROOTFS.log)" >&2
    exit 1
fi
rm -f "$ROOTFS.log"

# The image's apt uses the same Debian entries as this machine (mirror, updates,
# security); debootstrap's keyring package trusts them.
{
    echo "# From the build machine's apt sources (docker/base-image.sh)"
    "$HERE/apt-sources.sh"
} >"$ROOTFS/etc/apt/sources.list"
[ -s "$ROOTFS/etc/apt/sources.list" ] || echo "deb $MIRROR bookworm main" >"$ROOTFS/etc/apt/sources.list"
# Slim: no docs, man pages or translations from later installs; no recommends;
# apt keeps no downloaded packages (as Debian's own docker images do).
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/* \
    "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/*
tar --numeric-owner -C "$ROOTFS" -c . |
    docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' \
        -m "debootstrap --variant=minbase bookworm $MIRROR" - "$TAG" >/dev/null
echo "base-image: $TAG built in $(($(date +%s) - start)) s (debian $(docker run --rm "$TAG" cat /etc/debian_version))"
