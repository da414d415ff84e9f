#!/usr/bin/env bash
# Stops what scripts/cluster-up.sh started in DIR (and only that): scripts/cluster-down.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
exec npm exec --silent -- node test/cluster/cli.ts down --dir "$1"
