#!/usr/bin/env bash
# The main job: brings up a stack from examples/compose/ on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
example=${1:-examples/compose/quickstart}
shoal -f "$example/compose.yaml" config
