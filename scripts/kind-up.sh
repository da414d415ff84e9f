#!/usr/bin/env bash
# Brings up metal3-apiserver on a local kind cluster: creates the cluster (unless it exists), builds the
# image, loads it into the nodes, applies manifests/overlays/kind and waits for the APIService to be
# Available. Needs Docker (a running engine) and kind (https://kind.sigs.k8s.io), and kubectl.
#   scripts/kind-up.sh            cluster "metal3"
#   KIND_CLUSTER_NAME=dev scripts/kind-up.sh
# Tear down with: kind delete cluster --name metal3
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER_NAME:-metal3}"
image="metal3-apiserver:dev"
context="kind-${cluster}"

missing=0
for tool in docker kind kubectl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kind-up: $tool is not installed" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ] || { echo "kind-up: needs docker, kind and kubectl; see the README's \"Run in a cluster\"" >&2; exit 1; }
if ! docker info >/dev/null 2>&1; then
  echo "kind-up: docker is installed but no Docker engine answers (is the daemon running, may this user use it?)" >&2
  exit 1
fi

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "kind-up: using the existing kind cluster \"$cluster\""
else
  kind create cluster --name "$cluster" --wait 120s
fi

docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"

kubectl --context "$context" apply -k manifests/overlays/kind
# The tag does not change between builds, so a second run has to restart the pods to pick up the image.
kubectl --context "$context" -n metal3 rollout restart deployment/metal3-apiserver >/dev/null
kubectl --context "$context" -n metal3 rollout status deployment/metal3-apiserver --timeout=180s
if ! kubectl --context "$context" wait --for=condition=Available apiservice/v1alpha1.metal3.io --timeout=180s; then
  kubectl --context "$context" get apiservice v1alpha1.metal3.io -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
  kubectl --context "$context" -n metal3 logs deployment/metal3-apiserver --tail=50 >&2 || true
  exit 1
fi

cat <<NEXT

metal3-apiserver is registered behind kind's kube-apiserver (context ${context}). Try:

  kubectl --context ${context} get apiservice v1alpha1.metal3.io
  kubectl --context ${context} -n metal3 create secret generic bmc-creds --from-literal=username=admin --from-literal=password=secret
  kubectl --context ${context} -n metal3 apply -f test/fixtures/bmh-redfish-virtualmedia.yaml
  kubectl --context ${context} get bmh -A -o wide --watch
  kubectl --context ${context} explain bmh.spec.bmc

The kind overlay keeps objects in SQLite inside the pod: they are gone when the pod restarts.
NEXT
