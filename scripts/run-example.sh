#!/usr/bin/env bash
# The main job: brings up a stack from examples/compose/ on a fresh machine (as root), shows it
# running, and leaves it up. `scripts/run-example.sh --down` also takes it down again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

down=0
example=examples/compose/quickstart
for arg in "$@"; do
  case "$arg" in
    --down) down=1 ;;
    *) example=$arg ;;
  esac
done
compose=(shoal -f "$example/compose.yaml")

# The examples run offline: their base image is made locally from Debian's busybox-static.
shoal image bootstrap busybox
"${compose[@]}" config --quiet
"${compose[@]}" up -d --wait --wait-timeout 120
"${compose[@]}" ps

if [ "$example" = examples/compose/quickstart ]; then
  echo
  echo "The web service's 3 replicas answer on 127.0.0.1:8088, load-balanced:"
  for _ in 1 2 3 4 5 6; do
    python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8088/", timeout=5).read().decode().strip())'
  done
fi

if [ "$down" = 1 ]; then
  "${compose[@]}" down -v
else
  echo
  echo "The stack is up. Try: ${compose[*]} logs -f | ${compose[*]} ps | ${compose[*]} down -v"
fi
