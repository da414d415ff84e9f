#!/usr/bin/env bash
# Starts Debian's Ironic on loopback for development: scripts/ironic-up.sh DIR [--auth noauth|http_basic]
# [--single] [--api-port N] [--delays power=1,deploy=3]. Prints the endpoint (IRONIC_ENDPOINT).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 DIR [--auth noauth|http_basic] [--single] [--api-port N] [--delays ...]" >&2; exit 2; }
exec npm exec --silent -- node test/ironic/cli.ts up "$@"
