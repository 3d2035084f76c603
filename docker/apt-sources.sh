#!/usr/bin/env bash
# Prints the host's Debian apt entries for bookworm (bookworm, bookworm-updates,
# bookworm-security) as one-line sources.list entries, read from
# /etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources (deb822).
# Third-party repositories (a URI that does not end in /debian or
# /debian-security) and disabled stanzas are left out.
#
#   docker/apt-sources.sh            the entries ("deb URI SUITE COMPONENTS...")
#   docker/apt-sources.sh --mirror   only the URI of the plain "bookworm" suite
#                                    (what debootstrap should download from)
#   docker/apt-sources.sh --hosts    "HOST:IP" for each mirror host that this machine
#                                    resolves through /etc/hosts only (build containers
#                                    do not see the host's /etc/hosts: docker build
#                                    gets them as --add-host)
set -euo pipefail
ROOT=${SB_APT_ROOT:-}

entries() {
    local f
    for f in "$ROOT"/etc/apt/sources.list "$ROOT"/etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # deb [opts] URI SUITE COMPONENTS...
        sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 4 {
            line = $2 " " $3; for (i = 4; i <= NF; i++) line = line " " $i; print line }'
    done
    for f in "$ROOT"/etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk 'function flush(  u, s, nu, ns, i, j) {
                 if (types ~ /(^|[ \t])deb($|[ \t])/ && enabled !~ /^[ \t]*no/ && uris != "" && suites != "") {
                     nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
                     for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
                         if (u[i] != "" && s[j] != "") print u[i] " " s[j] " " comps
                 }
                 types = uris = suites = comps = enabled = ""
             }
             /^[ \t]*#/ { next }
             /^[ \t]*$/ { flush(); next }
             { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
             key == "types:" { types = $0 } key == "uris:" { uris = $0 }
             key == "suites:" { suites = $0 } key == "components:" { comps = $0 }
             key == "enabled:" { enabled = tolower($0) }
             END { flush() }' "$f"
    done
}

debian_entries() {
    entries | awk '$1 ~ /\/debian(-security)?\/?$/ && $2 ~ /^bookworm(-updates|-security)?$/ {
        sub(/\/$/, "", $1); print "deb " $0 }' | awk '!seen[$0]++'
}

case "${1:-}" in
    --mirror)
        m=$(debian_entries | awk '$3 == "bookworm" { print $2; exit }')
        echo "${m:-http://deb.debian.org/debian}"
        ;;
    --hosts)
        debian_entries | awk '{ print $2 }' | sed -E 's#^[a-z]+://([^/:]+).*#\1#' | sort -u |
            while read -r host; do
                # Only names pinned in /etc/hosts: anything else DNS answers inside containers too.
                ip=$(awk -v h="$host" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) { print $1; exit } }' \
                    "$ROOT"/etc/hosts 2>/dev/null || true)
                if [ -n "$ip" ]; then echo "$host:$ip"; fi
            done
        ;;
    "")
        debian_entries
        ;;
    *)
        echo "usage: $0 [--mirror | --hosts]" >&2
        exit 2
        ;;
esac
