#!/usr/bin/env bash
# Starts etcd, kube-apiserver and metal3-apiserver registered behind it: scripts/cluster-up.sh DIR [--ironic]
# [--mode cluster|standalone]. Writes DIR/admin.kubeconfig and DIR/user.kubeconfig.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 DIR [--ironic] [--mode cluster|standalone]" >&2; exit 2; }
dir=$1
shift
exec npm exec --silent -- node test/cluster/cli.ts up --dir "$dir" "$@"
