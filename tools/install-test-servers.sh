#!/usr/bin/env bash
# Install the real servers the artifact tests start on 127.0.0.1 (tests/realservers/):
#   docker-registry  Debian's build of the CNCF distribution registry (/usr/bin/docker-registry)
#   htpasswd         apache2-utils, for the bcrypt (`htpasswd -B`) password file the registry reads
#   pypi-server      pypiserver, a dev dependency already in the project venv (checked, not installed)
# Idempotent and quick when everything is present: no apt-get call at all then. Debian packages are
# installed only as root; otherwise it says what to run. The Debian package ships a systemd unit
# for a system-wide registry on :5000; the tests never use it (each test run starts its own).
# Usage: tools/install-test-servers.sh   (from anywhere in the repo)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)

if ((${#missing[@]})); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        # --no-install-recommends: the registry needs nothing else; policy-rc.d-less containers
        # cannot start its service anyway, and the tests do not want it.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
        echo "installed ${missing[*]} (apt)"
    else
        echo "install-test-servers: missing ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if [[ ! -x "$venv/bin/pypi-server" ]]; then
    echo "install-test-servers: no pypi-server in $venv (pip install -e '.[dev]' installs it)" >&2
    exit 1
fi
