#!/usr/bin/env bash
# Stops the Ironic that scripts/ironic-up.sh started in DIR (and only that): scripts/ironic-down.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
exec npm exec --silent -- node test/ironic/cli.ts down "$1"
