#!/usr/bin/env bash
# Installs everything shoal and its tests need on a fresh Debian machine (run as root).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(busybox-static tini iproute2 nftables iptables file mosquitto mosquitto-clients
              skopeo umoci docker-registry apache2-utils)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The distribution's services are not ours to run: tests start their own on 127.0.0.1.
  for svc in mosquitto docker-registry; do
    systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
  done
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import orchestrator, engine, yaml, jsonschema, networkx, pyroute2, aiomqtt, pytest, hypothesis, kubernetes_validate' >/dev/null 2>&1 \
   || ! command -v shoal >/dev/null 2>&1; then
  echo "setup: installing shoal and its Python dependencies with pip"
  "$PY" -m pip install -q --disable-pip-version-check -e ".[test]"
fi
