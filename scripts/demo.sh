#!/usr/bin/env bash
# The whole pipeline in one process on embedded defaults, with simulated stations.
# Sets up .venv on first use. Extra arguments go to `quantrac demo` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
quantrac_venv ""
exec .venv/bin/quantrac demo "$@"
