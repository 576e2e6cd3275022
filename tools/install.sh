#!/usr/bin/env bash
# Install everything midonet-ryu needs on a fresh Debian 12 machine, as root:
# system packages (Open vSwitch, ZooKeeper, namespace tools) and a private
# Python environment in .venv with the project installed in editable mode.
# With --system: the system packages only.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openvswitch-switch openvswitch-common zookeeper default-jre-headless
              iproute2 ethtool iputils-ping tcpdump socat procps python3-venv busybox shellcheck)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "${1:-}" = "--system" ] && exit 0

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for c in python3.11 python3; do
        if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            PYTHON=$c; break
        fi
    done
fi
[ -n "$PYTHON" ] || { echo "Python >= 3.11 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    echo "== venv: creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
echo "== pip: installing midonet-ryu and its test requirements"
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -r requirements.txt -r test-requirements.txt
.venv/bin/pip install -q --no-deps -e .
echo "== installed: $(.venv/bin/python --version), $(ovs-vsctl --version | head -1), zookeeper $(dpkg-query -W -f='${Version}' zookeeper)"
